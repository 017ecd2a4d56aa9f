package demo

import (
	"context"
	"fmt"
	"html"
	"time"

	"github.com/pi-crm/pi-crm/pkg/activity"
	"github.com/pi-crm/pi-crm/pkg/auth"
	"github.com/pi-crm/pi-crm/pkg/contact"
	"github.com/pi-crm/pi-crm/pkg/list"
	"github.com/pi-crm/pi-crm/pkg/workspace"
)

// sample is one hand-written demo contact and its history. Birthdays are
// this month (day bday, year byear; 0 means none) so the dashboard has
// some to show whenever the demo is seeded.
type sample struct {
	first, last, company, title string
	email, phone                string // phone in the fictional 555-01xx range
	email2, phone2              string
	stage                       string
	tags                        []string
	bday, byear                 int
	children, pets, referredBy  string
	address, website, fileNotes string
	dnc                         bool
	separate                    bool // a second contact with the same email or phone: a duplicate to merge
	log                         []entry
	shareWith                   string // the other demo user's email
	spouseOf                    string // the first name of an earlier sample in the workspace
}

// entry is one log entry of a sample, daysAgo before the seeding.
type entry struct {
	kind     activity.Kind
	daysAgo  int
	dir      string // email and sms: activity.Out or activity.In
	subject  string
	text     string
	duration int // calls, minutes
}

func note(days int, text string) entry { return entry{kind: activity.Note, daysAgo: days, text: text} }
func call(days, min int, text string) entry {
	return entry{kind: activity.Call, daysAgo: days, duration: min, text: text}
}
func textOut(days int, text string) entry {
	return entry{kind: activity.SMS, daysAgo: days, dir: activity.Out, text: text}
}
func textIn(days int, text string) entry {
	return entry{kind: activity.SMS, daysAgo: days, dir: activity.In, text: text}
}
func mailOut(days int, subject, text string) entry {
	return entry{kind: activity.Email, daysAgo: days, dir: activity.Out, subject: subject, text: text}
}
func mailIn(days int, subject, text string) entry {
	return entry{kind: activity.Email, daysAgo: days, dir: activity.In, subject: subject, text: text}
}

// showcase holds each demo user's hand-written contacts by workspace.
var showcase = map[string]map[string][]sample{
	"andy@example.com": {
		"Loan Factory": {
			{first: "Linh", last: "Tran", company: "Queen's Medical Center", title: "Charge Nurse", email: "linh.tran@example.com", phone: "+1 808 555 0101",
				stage: "Applications", tags: []string{"First-time buyer"}, bday: 9, byear: 1988, address: "1200 Ala Moana Blvd, Apt 1402\nHonolulu, HI 96814",
				fileNotes: "Pre-approved for $650,000, 30-year fixed. Condo in Kakaako; HOA docs pending.",
				log: []entry{
					note(21, "Met at the RateReady first-time buyer seminar. Saving for 10% down; prefers texts after 5 pm."),
					call(14, 12, "Went over the rate lock options; she will send her W-2s and two pay stubs by Friday."),
					mailOut(13, "Your document checklist", "Hi Linh,\n\nHere is everything we need for the application: W-2s for 2024 and 2025, your last two pay stubs and two months of bank statements.\n\nAndy"),
					textOut(6, "Hi Linh, your pre-approval letter is in your inbox. Text me with any questions!"),
					textIn(6, "Got it, thank you Andy! Showing on Saturday."),
				}},
			{first: "Kai", last: "Kealoha", company: "Hawaiian Electric", title: "Engineer", email: "kai.kealoha@example.com", phone: "+1 808 555 0102",
				stage: "Prospects", tags: []string{"VIP", "Refinance"}, children: "Makana (9), Nohea (6)", pets: "Poi (dog)", website: "kealoha.example",
				log: []entry{
					mailIn(30, "Question about refinancing", "Hi Andy, our rate is 7.1% from 2023. Does a refinance make sense yet?"),
					call(29, 25, "Current balance about $480k. Break-even on a refinance at 6.25% is about 26 months. Will watch rates."),
					note(3, "Rates dipped; call Kai and Leilani this week."),
				}},
			{first: "Leilani", last: "Kealoha", email: "leilani.kealoha@example.com", phone: "+1 808 555 0103", stage: "Prospects", tags: []string{"VIP"},
				bday: 17, byear: 1990, spouseOf: "Kai",
				log: []entry{textIn(2, "Kai said rates dropped? Can we talk Thursday?"), textOut(2, "Absolutely, Thursday at 6 works. I'll call you both.")}},
			{first: "Bao", last: "Nguyen", company: "Nguyen Family Dental", title: "Owner", email: "bao@nguyendental.example", phone: "+1 808 555 0104",
				stage: "Closed", tags: []string{"Past client", "VIP"}, bday: 25, byear: 1979, children: "Anh", referredBy: "Monalisa (Coldwell Banker)",
				address: "45-090 Namoku St\nKaneohe, HI 96744",
				log: []entry{
					note(200, "Closed on the Kaneohe house: $1.1M, 20% down, 6.5% 30-year fixed."),
					mailOut(190, "Thank you, and welcome home", "Bao, congratulations on closing! It was a pleasure. If friends need a loan, I'd be glad to help."),
					call(40, 8, "Annual check-in. Happy with the house; his sister is thinking of buying next spring."),
				}},
			{first: "James", last: "Smith", company: "Pacific Realty", title: "Realtor", email: "james.smith@pacificrealty.example", phone: "+1 808 555 0105",
				stage: "Leads", tags: []string{"Realtor partner"}, website: "https://pacificrealty.example/james",
				log: []entry{mailOut(9, "Co-hosting an open house?", "Hi James, I'd love to co-host your Manoa listing's open house and bring pre-approval flyers."),
					mailIn(8, "Re: Co-hosting an open house?", "Sounds great. Sunday 1-4 pm, 2719 Oahu Ave.")},
				shareWith: "monalisa@example.com"},
			{first: "Olivia", last: "Garcia", email: "olivia.garcia@example.com", phone: "+1 808 555 0106", stage: "Lost",
				log: []entry{call(60, 15, "Compared our quote with her credit union's."), note(45, "Went with her credit union (0.125% lower). Follow up in a year.")}},
			{first: "Minh", last: "Pham", company: "UH Manoa", title: "Professor", email: "minh.pham@example.com", phone: "+1 808 555 0107", stage: "Leads",
				log: []entry{note(5, "Filled in the website contact form: wants to know about jumbo loans.")}},
			{first: "Minh", last: "Pham", email: "mpham@hawaii.example", phone: "+1 808 555 0107", separate: true,
				log: []entry{textIn(4, "Hi, this is Minh Pham from the contact form. Is now a good time?")}},
			{company: "Aloha Title & Escrow", email: "escrow@alohatitle.example", phone: "+1 808 555 0108", tags: []string{"Vendor"},
				website: "alohatitle.example", address: "1001 Bishop St, Suite 900\nHonolulu, HI 96813",
				log: []entry{call(12, 6, "Confirmed the closing date for the Tran file.")}},
			{first: "Sophia", last: "Lee", email: "sophia.lee@example.com", phone: "+1 808 555 0109", dnc: true,
				log: []entry{note(90, "Asked not to be contacted again. Marked do not contact.")}},
		},
		"RateReady Realtors": {
			{first: "Noah", last: "Williams", company: "RateReady Realtors", title: "Broker", email: "noah@rateready.example", phone: "+1 808 555 0110",
				tags: []string{"Referral partner"}, bday: 12, log: []entry{note(15, "Sends about two buyers a month; prefers email.")}},
			{first: "Ava", last: "Martinez", company: "RateReady Realtors", title: "Agent", email: "ava@rateready.example", phone: "+1 808 555 0111",
				tags: []string{"Referral partner"}, log: []entry{textOut(1, "Ava, your buyers' pre-approval is ready. Sending it over now.")}},
		},
		"Family & Friends": {
			{first: "Mai", last: "Nguyen", email: "mai.nguyen@example.com", phone: "+1 808 555 0112", bday: 20, byear: 1962,
				log: []entry{call(7, 30, "Sunday call. Dinner at her place next week.")}},
		},
	},
	"monalisa@example.com": {
		"Coldwell Banker Contacts": {
			{first: "Emily", last: "Johnson", email: "emily.johnson@example.com", phone: "+1 808 555 0120", stage: "Prospects", tags: []string{"Buyer", "Open house"},
				bday: 14, byear: 1991, address: "88 Kuulei Rd (renting until June)\nKailua, HI 96734", log: []entry{
					note(10, "Signed in at the Kailua open house. Looking for 3 bed / 2 bath under $1.2M, near good schools."),
					textOut(9, "Hi Emily, thanks for coming Sunday! I have two more Kailua listings you may like."),
					textIn(9, "Yes please! Weekends work best."),
				}},
			{first: "Liam", last: "Brown", email: "liam.brown@example.com", phone: "+1 808 555 0121", stage: "Applications", tags: []string{"Seller"},
				address: "2719 Oahu Ave\nHonolulu, HI 96822", fileNotes: "Listing agreement signed; list price $1,450,000.",
				log: []entry{call(20, 40, "Walked through the house; staging and photos next week."), mailOut(18, "Listing agreement", "Liam, attached is the listing agreement for 2719 Oahu Ave.")}},
			{first: "Chi", last: "Le", email: "chi.le@example.com", phone: "+1 808 555 0122", stage: "Leads", tags: []string{"Open house"},
				log: []entry{note(3, "Open house sign-in sheet.")}},
			{first: "Chi", last: "Le", email: "chi.le@example.com", separate: true, log: []entry{mailIn(2, "Saw your listing", "Is 2719 Oahu Ave still available?")}},
			{first: "Tuan", last: "Vo", company: "Vo Engineering", email: "tuan.vo@example.com", phone: "+1 808 555 0123", stage: "Prospects", tags: []string{"Buyer"},
				bday: 3, byear: 1985, shareWith: "andy@example.com",
				log: []entry{note(6, "Needs a mortgage pre-approval before we make offers: shared with Andy."), call(5, 10, "Budget about $900k; 15% down.")}},
			{first: "Mason", last: "Davis", email: "mason.davis@example.com", phone: "+1 808 555 0124", stage: "Closed", tags: []string{"Past client"},
				log: []entry{mailOut(120, "Happy home anniversary!", "Mason, one year in the new place already! Let me know if you ever want a market update.")}},
		},
	},
}

// Showcase fills the demo users' workspaces with the hand-written contacts
// above, through the same store calls the pages use (so every one passes
// validation and can be edited and merged): tags, stages, birthdays this
// month, notes, calls, texts and emails in the log, spouses, shares between
// the two users and a duplicate pair in each user's main workspace.
func Showcase(ctx context.Context, users *auth.Store, workspaces *workspace.Store, lists *list.Store, contacts *contact.Store) error {
	now := time.Now()
	for email, byWS := range showcase {
		u, err := users.UserByEmail(ctx, email)
		if err != nil {
			return fmt.Errorf("demo showcase: %w", err)
		}
		actor := u.Actor("local")
		all, err := workspaces.List(ctx, actor)
		if err != nil {
			return err
		}
		for _, ws := range all {
			samples := byWS[ws.Name]
			if len(samples) == 0 {
				continue
			}
			if err := showcaseWorkspace(ctx, users, lists, contacts, actor, ws.ID, samples, now); err != nil {
				return fmt.Errorf("demo showcase %s: %w", ws.Name, err)
			}
		}
	}
	return nil
}

func showcaseWorkspace(ctx context.Context, users *auth.Store, lists *list.Store, contacts *contact.Store, actor auth.Actor, wsID string, samples []sample, now time.Time) error {
	stages, err := lists.All(ctx, actor, wsID, list.Stage)
	if err != nil {
		return err
	}
	stageID := map[string]string{}
	for _, l := range stages {
		stageID[l.Name] = l.ID
	}
	byFirst := map[string]string{}
	for _, s := range samples {
		f := contact.Fields{FirstName: &s.first, LastName: &s.last, Company: &s.company, JobTitle: &s.title, Address: &s.address,
			Website: &s.website, Children: &s.children, Pets: &s.pets, ReferredBy: &s.referredBy, FileNotes: &s.fileNotes, DoNotContact: &s.dnc}
		emails := []contact.EmailInput{}
		for _, e := range []string{s.email, s.email2} {
			if e != "" {
				emails = append(emails, contact.EmailInput{Address: e, Label: "Personal", Primary: len(emails) == 0})
			}
		}
		phones := []contact.PhoneInput{}
		for _, p := range []string{s.phone, s.phone2} {
			if p != "" {
				phones = append(phones, contact.PhoneInput{Number: p, Label: "Mobile", Primary: len(phones) == 0})
			}
		}
		f.Emails, f.Phones = &emails, &phones
		if id, ok := stageID[s.stage]; ok {
			f.StageID = &id
		}
		if s.bday > 0 {
			b := &contact.Birthday{Month: int(now.Month()), Day: s.bday, Year: s.byear}
			f.Birthday = &b
		}
		if s.spouseOf != "" {
			id := byFirst[s.spouseOf]
			f.SpouseID = &id
		}
		c, err := contacts.Create(ctx, actor, wsID, f, s.separate)
		if err != nil {
			return fmt.Errorf("%s %s%s: %w", s.first, s.last, s.company, err)
		}
		byFirst[s.first] = c.ID
		for _, t := range s.tags {
			if err := contacts.AddTagNamed(ctx, actor, wsID, c.ID, t); err != nil {
				return err
			}
		}
		for _, e := range s.log {
			at := now.Add(-time.Duration(e.daysAgo)*24*time.Hour - time.Duration(len(e.text))*time.Minute)
			switch e.kind {
			case activity.Note:
				err = contacts.AddNoteAt(ctx, actor, wsID, c.ID, "<p>"+html.EscapeString(e.text)+"</p>", at)
			case activity.Call:
				err = contacts.AddCall(ctx, actor, wsID, c.ID, at, time.Duration(e.duration)*time.Minute, e.text)
			default:
				err = contacts.AddMessage(ctx, actor, wsID, c.ID, contact.Message{Kind: e.kind, Direction: e.dir, At: at, Subject: e.subject, Text: e.text})
			}
			if err != nil {
				return err
			}
		}
		if s.shareWith != "" {
			viewer, err := users.UserByEmail(ctx, s.shareWith)
			if err != nil {
				return err
			}
			if err := contacts.ShareWith(ctx, actor, wsID, c.ID, viewer.ID); err != nil {
				return err
			}
		}
	}
	return nil
}
