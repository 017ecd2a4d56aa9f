package ai

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Brief is what the user asks a template draft for: the wizard's four
// answers, the free prompt, and the context the appliance adds.
type Brief struct {
	Goal      string `json:"goal"`
	Audience  string `json:"audience"`
	Tone      string `json:"tone"`
	MustHaves string `json:"must_haves"`
	Prompt    string `json:"prompt"`
	// Context, added by the appliance.
	Workspace    string   `json:"workspace"`     // the business line, e.g. "Loan Factory"
	RealEstate   bool     `json:"real_estate"`   // a real-estate workspace
	List         string   `json:"list"`          // the chosen stage or tag, if any
	Sender       string   `json:"sender"`        // the user's name
	Recipient    string   `json:"recipient"`     // a contact it is written to, if any
	Placeholders []string `json:"placeholders"`  // the names the body may use
	BestSubjects []string `json:"best_subjects"` // subjects of the user's best templates, once campaigns measure them
	// A revision: the draft to change and what to change.
	Previous *Draft `json:"previous,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// Draft is the model's answer: an email template's parts.
type Draft struct {
	Subject   string `json:"subject"`
	Preheader string `json:"preheader"`
	Body      string `json:"body_html"`
}

// DraftSchema is the JSON Schema the answer must fit.
var DraftSchema = json.RawMessage(`{
  "type": "object",
  "properties": {
    "subject": {"type": "string", "description": "The subject line, under 70 characters."},
    "preheader": {"type": "string", "description": "The inbox preview line after the subject, under 110 characters."},
    "body_html": {"type": "string", "description": "The email body as simple HTML: p, strong, em, ul, li, a, h2 only."}
  },
  "required": ["subject", "preheader", "body_html"],
  "additionalProperties": false
}`)

const draftSystem = `You write marketing and relationship emails for a small business's CRM.
Answer only with JSON that fits the schema: subject, preheader, body_html.
The body is simple HTML (p, strong, em, ul, li, a, h2), no styles, no scripts, no images, no outer layout: the CRM adds the layout and the signature.
Personalise with placeholders in double braces, only from this list: %s. A placeholder may have a fallback: {{first_name | "there"}}.
Never invent facts such as rates, prices or dates the user did not give; leave a clear [bracketed] gap instead.
Write in plain, warm, professional English unless asked otherwise; keep it short enough to read on a phone.`

// Messages returns the system and user messages for b. The user message
// carries every answer and the context, labelled, so a model (and a test)
// can find each.
func (b Brief) Messages() (system, user string) {
	names := make([]string, 0, len(b.Placeholders))
	for _, n := range b.Placeholders {
		names = append(names, "{{"+n+"}}")
	}
	system = fmt.Sprintf(draftSystem, strings.Join(names, ", "))
	var u strings.Builder
	line := func(label, v string) {
		if v = strings.TrimSpace(v); v != "" {
			fmt.Fprintf(&u, "%s: %s\n", label, v)
		}
	}
	if b.Previous != nil {
		u.WriteString("Revise this draft.\n")
		prev, _ := json.Marshal(b.Previous)
		line("Current draft (JSON)", string(prev))
		line("What to change", b.Comment)
		u.WriteString("\nThe original brief:\n")
	}
	line("Business line", b.Workspace)
	if b.RealEstate {
		u.WriteString("Industry: real estate (a residential agent's clients and leads)\n")
	}
	line("Goal", b.Goal)
	line("Audience", b.Audience)
	line("Recipients' list", b.List)
	line("Tone", b.Tone)
	line("Must include", b.MustHaves)
	line("Sender", b.Sender)
	line("Written to (one contact; still use the placeholders)", b.Recipient)
	if len(b.BestSubjects) > 0 {
		line("Subjects that worked well before", strings.Join(b.BestSubjects, " | "))
	}
	line("Request", b.Prompt)
	return system, u.String()
}

// Draft asks the model for a template draft for b.
func (c *Client) Draft(ctx context.Context, b Brief) (Draft, Usage, error) {
	system, user := b.Messages()
	var d Draft
	u, err := c.JSON(ctx, system, user, "email_draft", DraftSchema, &d)
	if err != nil {
		return d, u, err
	}
	d.Subject, d.Preheader, d.Body = strings.TrimSpace(d.Subject), strings.TrimSpace(d.Preheader), strings.TrimSpace(d.Body)
	var missing []string
	if d.Subject == "" {
		missing = append(missing, "subject")
	}
	if d.Body == "" {
		missing = append(missing, "body_html")
	}
	if len(missing) > 0 {
		return d, u, &Error{Message: "The model's answer left out " + strings.Join(missing, " and ") + ".", Retry: true}
	}
	return d, u, nil
}
