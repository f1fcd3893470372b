package meta

import (
	"encoding/json"

	"github.com/wabaplatform/waba/domain"
)

// MessagePayload builds the Graph API message object for an outbound message: our message
// id rides in biz_opaque_callback_data so every status webhook names it. Media in our
// stored shape ({link | media_id, caption, filename}) becomes Graph's ({link | id, ...}).
func MessagePayload(m domain.OutboundMessage) map[string]any {
	p := map[string]any{
		"messaging_product":        "whatsapp",
		"recipient_type":           "individual",
		"type":                     m.Type,
		"biz_opaque_callback_data": m.ID.String(),
	}
	if m.To != "" {
		p["to"] = m.To
	} else {
		p["recipient"] = m.BSUID
	}
	content := m.Content
	if isMedia(m.Type) {
		var mc struct {
			Link     string `json:"link"`
			MediaID  string `json:"media_id"`
			Caption  string `json:"caption"`
			Filename string `json:"filename"`
		}
		_ = json.Unmarshal(m.Content, &mc)
		g := map[string]string{}
		if mc.Link != "" {
			g["link"] = mc.Link
		} else {
			g["id"] = mc.MediaID
		}
		if mc.Caption != "" {
			g["caption"] = mc.Caption
		}
		if mc.Filename != "" {
			g["filename"] = mc.Filename
		}
		if b, err := json.Marshal(g); err == nil {
			content = b
		}
	}
	p[m.Type] = content
	return p
}

func isMedia(t string) bool {
	return t == "image" || t == "document" || t == "audio" || t == "video" || t == "sticker"
}
