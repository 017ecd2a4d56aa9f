package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/pi-crm/pi-crm/pkg/errs"
	"github.com/pi-crm/pi-crm/pkg/logkey"
)

// maxBody bounds request bodies; nothing in this API is larger.
const maxBody = 1 << 20

type envelope struct {
	Data  any       `json:"data"`
	Error *apiError `json:"error"`
}

type apiError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v envelope) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func ok(w http.ResponseWriter, status int, data any) {
	writeJSON(w, status, envelope{Data: data})
}

// fail answers err in the envelope; unexpected errors are logged and shown
// only as "internal".
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := errs.As(err)
	status := errs.HTTPStatus(e.Kind)
	if status == http.StatusInternalServerError {
		h.log.Error("api request failed", logkey.Path, r.URL.Path, logkey.Err, err)
	}
	ae := &apiError{Code: e.Code, Message: e.Message}
	if len(e.Fields) > 0 || len(e.Details) > 0 {
		ae.Details = map[string]any{}
		for k, v := range e.Details {
			ae.Details[k] = v
		}
		if len(e.Fields) > 0 {
			ae.Details["fields"] = e.Fields
		}
	}
	if e.Kind == errs.TooMany && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
	if e.Kind == errs.Unauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pi-crm"`)
	}
	writeJSON(w, status, envelope{Error: ae})
}

// decode reads a JSON object body into v, refusing unknown fields, trailing
// data and oversized bodies with an Invalid error that says what is wrong.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return errs.New(errs.Invalid, "The body is larger than %d bytes.", maxBody)
		case errors.Is(err, io.EOF):
			return errs.New(errs.Invalid, "The body is empty; send a JSON object.")
		case errors.As(err, &se):
			return errs.New(errs.Invalid, "The body is not valid JSON (at byte %d).", se.Offset)
		case errors.As(err, &te):
			return &errs.Error{Kind: errs.Invalid, Message: fmt.Sprintf("Field %q must be a %s.", te.Field, te.Type), Fields: map[string]string{te.Field: "must be a " + te.Type.String()}}
		default:
			return errs.New(errs.Invalid, "The body could not be read: %s.", err.Error())
		}
	}
	if dec.More() {
		return errs.New(errs.Invalid, "The body has data after the JSON object.")
	}
	return nil
}
