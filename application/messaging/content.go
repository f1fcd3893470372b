package messaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/wabaplatform/waba/domain"
)

// Message types the send API accepts.
const (
	TypeText        = "text"
	TypeTemplate    = "template"
	TypeImage       = "image"
	TypeDocument    = "document"
	TypeAudio       = "audio"
	TypeVideo       = "video"
	TypeSticker     = "sticker"
	TypeInteractive = "interactive"
)

// Meta's limits (meta-cloud-api.md section 5).
const (
	MaxTextRunes    = 4096
	maxCaptionRunes = 1024
	maxLinkBytes    = 2048
)

func isMedia(t string) bool {
	return t == TypeImage || t == TypeDocument || t == TypeAudio || t == TypeVideo || t == TypeSticker
}

// OurMediaID reads the media_id of a media message's content when it names a file of the
// media store (our id, a UUID) rather than one of Meta's (digits).
func OurMediaID(content json.RawMessage) (domain.ID, bool) {
	var m struct {
		MediaID string `json:"media_id"`
	}
	if json.Unmarshal(content, &m) != nil {
		return domain.NilID, false
	}
	id, err := domain.ParseID(strings.TrimSpace(m.MediaID))
	return id, err == nil
}

// withMediaID is content with media_id replaced by Meta's id.
func withMediaID(content json.RawMessage, metaID string) json.RawMessage {
	var m map[string]any
	if json.Unmarshal(content, &m) != nil {
		return content
	}
	m["media_id"] = metaID
	return mustJSON(m)
}

func knownType(t string) bool {
	return t == TypeText || t == TypeTemplate || t == TypeInteractive || isMedia(t)
}

// normalizeContent validates the type object of a send and returns it in our stored shape
// (the API's shape: media by link or media_id; template language as {"code": ...}).
func normalizeContent(typ string, raw json.RawMessage, v *domain.Validator) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		v.Add(typ, "is required for type "+typ)
		return nil
	}
	if raw[0] != '{' {
		v.Add(typ, "must be an object")
		return nil
	}
	switch {
	case typ == TypeText:
		return normalizeText(raw, v)
	case typ == TypeTemplate:
		return normalizeTemplate(raw, v)
	case isMedia(typ):
		return normalizeMedia(typ, raw, v)
	case typ == TypeInteractive:
		return normalizeInteractive(raw, v)
	}
	return nil
}

func normalizeText(raw json.RawMessage, v *domain.Validator) json.RawMessage {
	var t struct {
		Body       *string `json:"body"`
		PreviewURL *bool   `json:"preview_url"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		v.Add("text", "must be {body, preview_url?}")
		return nil
	}
	switch {
	case t.Body == nil || strings.TrimSpace(*t.Body) == "":
		v.Add("text.body", "is required")
	case !utf8.ValidString(*t.Body):
		v.Add("text.body", "must be UTF-8")
	case utf8.RuneCountInString(*t.Body) > MaxTextRunes:
		v.Add("text.body", fmt.Sprintf("must be at most %d characters", MaxTextRunes))
	}
	out := map[string]any{"body": t.Body}
	if t.PreviewURL != nil {
		out["preview_url"] = *t.PreviewURL
	}
	return mustJSON(out)
}

// templateContent is a template in the Graph API's shape.
type templateContent struct {
	Name       string          `json:"name"`
	Language   json.RawMessage `json:"language"`
	Components json.RawMessage `json:"components,omitempty"`
}

// templateRef names a template: its name and language code.
type templateRef struct{ Name, Language string }

func normalizeTemplate(raw json.RawMessage, v *domain.Validator) json.RawMessage {
	var t templateContent
	if err := json.Unmarshal(raw, &t); err != nil {
		v.Add("template", "must be {name, language, components?}")
		return nil
	}
	name := strings.TrimSpace(t.Name)
	switch {
	case name == "":
		v.Add("template.name", "is required")
	case len(name) > 512:
		v.Add("template.name", "must be at most 512 characters")
	}
	code := LanguageCode(t.Language)
	switch {
	case code == "":
		v.Add("template.language", `is required, as {"code": "en_US"}`)
	case len(code) > 16:
		v.Add("template.language", "is not a language code")
	}
	comps := bytes.TrimSpace(t.Components)
	if len(comps) > 0 && string(comps) != "null" && comps[0] != '[' {
		v.Add("template.components", "must be an array")
	}
	out := map[string]any{"name": name, "language": map[string]string{"code": code}}
	if len(comps) > 0 && string(comps) != "null" {
		out["components"] = json.RawMessage(comps)
	}
	return mustJSON(out)
}

// LanguageCode reads a template's language: Graph's {"code": "en_US"} or the shorthand
// "en_US".
func LanguageCode(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var o struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return strings.TrimSpace(o.Code)
	}
	return ""
}

func templateOf(content json.RawMessage) templateRef {
	var t templateContent
	_ = json.Unmarshal(content, &t)
	return templateRef{Name: strings.TrimSpace(t.Name), Language: LanguageCode(t.Language)}
}

// SentComponents reads the components of a template send (Graph's template object) for
// domain.CheckTemplateSend; ok is false when they are not an array of objects (validate
// reports that).
func SentComponents(content json.RawMessage) (out []domain.SentComponent, ok bool) {
	var t struct {
		Components []struct {
			Type       string          `json:"type"`
			Index      json.RawMessage `json:"index"`
			Parameters []struct {
				ParameterName string `json:"parameter_name"`
			} `json:"parameters"`
		} `json:"components"`
	}
	if json.Unmarshal(content, &t) != nil {
		return nil, false
	}
	for _, c := range t.Components {
		sc := domain.SentComponent{Type: c.Type, Index: -1, ParameterNames: make([]string, len(c.Parameters))}
		// Graph takes the index as a string ("0") or a number.
		var idx json.Number
		if json.Unmarshal(bytes.Trim(c.Index, `"`), &idx) == nil {
			if n, err := idx.Int64(); err == nil && n >= 0 && n < 100 {
				sc.Index = int(n)
			}
		}
		for j, p := range c.Parameters {
			sc.ParameterNames[j] = strings.TrimSpace(p.ParameterName)
		}
		out = append(out, sc)
	}
	return out, true
}

// mediaContent is the API's media object: by link or by uploaded media id.
type mediaContent struct {
	Link     string `json:"link,omitempty"`
	MediaID  string `json:"media_id,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

func normalizeMedia(typ string, raw json.RawMessage, v *domain.Validator) json.RawMessage {
	var m mediaContent
	if err := json.Unmarshal(raw, &m); err != nil {
		v.Add(typ, "must be {link | media_id, caption?, filename?}")
		return nil
	}
	m.Link, m.MediaID = strings.TrimSpace(m.Link), strings.TrimSpace(m.MediaID)
	switch {
	case m.Link == "" && m.MediaID == "":
		v.Add(typ, "needs a link or a media_id")
	case m.Link != "" && m.MediaID != "":
		v.Add(typ, "give either link or media_id, not both")
	case m.Link != "":
		u, err := url.Parse(m.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(m.Link) > maxLinkBytes || u.User != nil {
			v.Add(typ+".link", "must be an absolute http(s) URL")
		}
	default:
		if len(m.MediaID) > 128 || strings.ContainsAny(m.MediaID, " /?#") {
			v.Add(typ+".media_id", "is not a media id")
		}
	}
	if m.Caption != "" && (typ == TypeAudio || typ == TypeSticker) {
		v.Add(typ+".caption", typ+" has no caption")
	}
	if utf8.RuneCountInString(m.Caption) > maxCaptionRunes {
		v.Add(typ+".caption", fmt.Sprintf("must be at most %d characters", maxCaptionRunes))
	}
	if m.Filename != "" && typ != TypeDocument {
		v.Add(typ+".filename", "only documents have a filename")
	}
	if len(m.Filename) > 240 {
		v.Add(typ+".filename", "must be at most 240 characters")
	}
	return mustJSON(m)
}

type interactiveContent struct {
	Type   string `json:"type"`
	Header *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"header"`
	Body *struct {
		Text string `json:"text"`
	} `json:"body"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Action *struct {
		Button  string `json:"button"`
		Buttons []struct {
			Type  string `json:"type"`
			Reply struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"rows"`
		} `json:"sections"`
	} `json:"action"`
}

var interactiveTypes = map[string]bool{
	"button": true, "list": true, "cta_url": true, "flow": true, "product": true, "product_list": true,
	"catalog_message": true, "location_request_message": true, "address_message": true,
	"call_permission_request": true, "carousel": true,
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// normalizeInteractive checks the Graph object against Meta's limits for reply buttons and
// lists (the kinds an inbox sends); other kinds are passed through after a type check.
func normalizeInteractive(raw json.RawMessage, v *domain.Validator) json.RawMessage {
	var in interactiveContent
	if err := json.Unmarshal(raw, &in); err != nil {
		v.Add("interactive", "must be the Graph API's interactive object")
		return nil
	}
	if !interactiveTypes[in.Type] {
		v.Add("interactive.type", "must be one of button, list, cta_url, flow, product, product_list, catalog_message, location_request_message, address_message, call_permission_request, carousel")
		return nil
	}
	if in.Type == "button" || in.Type == "list" {
		bodyMax := 1024
		if in.Type == "list" {
			bodyMax = 4096
		}
		switch {
		case in.Body == nil || strings.TrimSpace(in.Body.Text) == "":
			v.Add("interactive.body.text", "is required")
		case runes(in.Body.Text) > bodyMax:
			v.Add("interactive.body.text", fmt.Sprintf("must be at most %d characters", bodyMax))
		}
		if in.Header != nil && runes(in.Header.Text) > 60 {
			v.Add("interactive.header.text", "must be at most 60 characters")
		}
		if in.Footer != nil && runes(in.Footer.Text) > 60 {
			v.Add("interactive.footer.text", "must be at most 60 characters")
		}
		if in.Action == nil {
			v.Add("interactive.action", "is required")
		} else if in.Type == "button" {
			checkButtons(in, v)
		} else {
			checkList(in, v)
		}
	}
	return json.RawMessage(bytes.Clone(raw))
}

func checkButtons(in interactiveContent, v *domain.Validator) {
	bs := in.Action.Buttons
	if len(bs) < 1 || len(bs) > 3 {
		v.Add("interactive.action.buttons", "must hold 1 to 3 buttons")
		return
	}
	ids, titles := map[string]bool{}, map[string]bool{}
	for i, b := range bs {
		f := fmt.Sprintf("interactive.action.buttons[%d]", i)
		switch {
		case b.Type != "reply":
			v.Add(f+".type", "must be reply")
		case b.Reply.ID == "" || runes(b.Reply.ID) > 256:
			v.Add(f+".reply.id", "must be 1 to 256 characters")
		case b.Reply.Title == "" || runes(b.Reply.Title) > 20:
			v.Add(f+".reply.title", "must be 1 to 20 characters")
		case ids[b.Reply.ID] || titles[b.Reply.Title]:
			v.Add(f, "ids and titles must be unique")
		}
		ids[b.Reply.ID], titles[b.Reply.Title] = true, true
	}
}

func checkList(in interactiveContent, v *domain.Validator) {
	if in.Action.Button == "" || runes(in.Action.Button) > 20 {
		v.Add("interactive.action.button", "must be 1 to 20 characters")
	}
	secs := in.Action.Sections
	if len(secs) < 1 || len(secs) > 10 {
		v.Add("interactive.action.sections", "must hold 1 to 10 sections")
		return
	}
	rows := 0
	for i, s := range secs {
		f := fmt.Sprintf("interactive.action.sections[%d]", i)
		if (len(secs) > 1 && s.Title == "") || runes(s.Title) > 24 {
			v.Add(f+".title", "must be 1 to 24 characters (required with several sections)")
		}
		for j, r := range s.Rows {
			rows++
			rf := fmt.Sprintf("%s.rows[%d]", f, j)
			switch {
			case r.ID == "" || runes(r.ID) > 200:
				v.Add(rf+".id", "must be 1 to 200 characters")
			case r.Title == "" || runes(r.Title) > 24:
				v.Add(rf+".title", "must be 1 to 24 characters")
			case runes(r.Description) > 72:
				v.Add(rf+".description", "must be at most 72 characters")
			}
		}
	}
	if rows < 1 || rows > 10 {
		v.Add("interactive.action.sections", "must hold 1 to 10 rows in total")
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps and structs of plain values reach here
	}
	return b
}
