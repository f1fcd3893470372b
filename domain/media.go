package domain

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MediaStatus is where a media file stands: an inbound file is pending until the worker
// stored it (or gave up: failed); an upload is stored before it exists.
type MediaStatus string

const (
	MediaPending MediaStatus = "pending"
	MediaStored  MediaStatus = "stored"
	MediaFailed  MediaStatus = "failed"
)

// MediaSource says where a media file came from.
type MediaSource string

const (
	MediaUploaded MediaSource = "upload"
	MediaInbound  MediaSource = "inbound"
)

// MediaSendValidity is how long Meta keeps an uploaded media id usable for sending (30
// days, meta-cloud-api.md), less a day's margin: an older id is uploaded again from the store.
const MediaSendValidity = 29 * 24 * time.Hour

// Media is one media file of a workspace.
type Media struct {
	ID            ID
	WorkspaceID   ID
	PhoneNumberID string // Meta's id of the business number it was uploaded on or received by
	Source        MediaSource
	MetaMediaID   string // Meta's id as uploaded or received
	MimeType      string
	Size          int64
	SHA256        string // hex of the stored bytes
	// ExpectedSHA256 is Meta's word on an inbound file (hex or base64, as Meta sent it).
	ExpectedSHA256 string
	Filename       string // display name (SanitizeFilename); never part of StorageKey
	StorageKey     string
	Status         MediaStatus
	FailureReason  string
	MessageID      *ID // inbound: the message that brought it
	ContactID      *ID // inbound: the contact who sent it (who may see it follows the contact)
	// The Meta id to send it by on SendPhoneNumberID, uploaded at SendUploadedAt.
	SendMediaID       string
	SendPhoneNumberID string
	SendUploadedAt    *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// SendableOn returns the Meta id to send m by from the number phoneNumberID at now, or ""
// when it must be uploaded (again) first.
func (m Media) SendableOn(phoneNumberID string, now time.Time) string {
	if m.SendMediaID == "" || m.SendPhoneNumberID != phoneNumberID || m.SendUploadedAt == nil ||
		now.Sub(*m.SendUploadedAt) >= MediaSendValidity {
		return ""
	}
	return m.SendMediaID
}

// MediaRef is a message's media as the API shows it beside the message.
type MediaRef struct {
	ID       ID          `json:"id"`
	Status   MediaStatus `json:"status"`
	MimeType string      `json:"mime_type"`
	Size     int64       `json:"size"`
}

// MediaKey is where a file is kept in the media store: generated from the workspace and
// the media id, never from anything a client sent, so no name can become a path.
func MediaKey(workspaceID, id ID) string { return workspaceID.String() + "/" + id.String() }

// MediaPrefix is the store prefix of every file of a workspace (its erasure deletes it).
func MediaPrefix(workspaceID ID) string { return workspaceID.String() + "/" }

// Media kinds: the message types that carry a file.
const (
	MediaImage    = "image"
	MediaAudio    = "audio"
	MediaVideo    = "video"
	MediaDocument = "document"
	MediaSticker  = "sticker"
)

// IsMediaType reports whether a message type carries a media file.
func IsMediaType(t string) bool {
	switch t {
	case MediaImage, MediaAudio, MediaVideo, MediaDocument, MediaSticker:
		return true
	}
	return false
}

// mediaTypes are the MIME types WhatsApp takes, with their kind and size limit (Meta's
// supported media table: image 5 MB, audio and video 16 MB, document 100 MB, sticker 500 KB).
var mediaTypes = map[string]struct {
	kind  string
	limit int64
}{
	"image/jpeg":                    {MediaImage, 5 << 20},
	"image/png":                     {MediaImage, 5 << 20},
	"image/webp":                    {MediaSticker, 500 << 10},
	"audio/aac":                     {MediaAudio, 16 << 20},
	"audio/amr":                     {MediaAudio, 16 << 20},
	"audio/mpeg":                    {MediaAudio, 16 << 20},
	"audio/mp4":                     {MediaAudio, 16 << 20},
	"audio/ogg":                     {MediaAudio, 16 << 20},
	"video/mp4":                     {MediaVideo, 16 << 20},
	"video/3gpp":                    {MediaVideo, 16 << 20},
	"text/plain":                    {MediaDocument, 100 << 20},
	"application/pdf":               {MediaDocument, 100 << 20},
	"application/msword":            {MediaDocument, 100 << 20},
	"application/vnd.ms-excel":      {MediaDocument, 100 << 20},
	"application/vnd.ms-powerpoint": {MediaDocument, 100 << 20},
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   {MediaDocument, 100 << 20},
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         {MediaDocument, 100 << 20},
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": {MediaDocument, 100 << 20},
}

// MaxMediaBytes is the largest file of any type (a document).
const MaxMediaBytes = 100 << 20

// MediaLimit is the largest file of a MIME type WhatsApp takes; ok is false for a type it
// does not take.
func MediaLimit(mimeType string) (limit int64, ok bool) {
	t, ok := mediaTypes[baseMIME(mimeType)]
	return t.limit, ok
}

// MediaKind is the message type a MIME type is sent as ("" for one WhatsApp does not take).
func MediaKind(mimeType string) string { return mediaTypes[baseMIME(mimeType)].kind }

// MediaFitsType reports whether a file of mimeType may be sent as a message of type typ:
// its own kind, or any file as a document (WhatsApp sends a document of any type it takes).
func MediaFitsType(mimeType, typ string) bool {
	k := MediaKind(mimeType)
	return k != "" && (k == typ || typ == MediaDocument && k != MediaSticker)
}

func baseMIME(t string) string {
	t, _, _ = strings.Cut(t, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// SniffWindow is how many leading bytes SniffMedia reads: http.DetectContentType's 512
// plus room to find the parts of an Office Open XML (zip) document.
const SniffWindow = 4096

// SniffMedia judges a file's type from its first bytes (up to SniffWindow) alone: the
// name and the declared type are never trusted. It returns the MIME type when it is one
// WhatsApp takes, "" otherwise (a script, HTML, SVG, an executable, an unknown format).
// name is consulted only to tell apart what the bytes cannot (which of the legacy Office
// formats an OLE2 container is, or which Office Open XML one a zip is when its first parts
// do not say) and to refuse text whose name claims it is media or code: it never makes
// bytes acceptable that are not.
func SniffMedia(head []byte, name string) string {
	ext := strings.ToLower(path.Ext(strings.ReplaceAll(name, "\\", "/")))
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return "image/webp"
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return "application/pdf"
	case bytes.HasPrefix(head, []byte("#!AMR\n")):
		return "audio/amr"
	case bytes.HasPrefix(head, []byte("OggS")):
		// WhatsApp takes Ogg with the Opus codec only: its first page holds OpusHead.
		if len(head) >= 36 && bytes.Contains(head[:min(len(head), 64)], []byte("OpusHead")) {
			return "audio/ogg"
		}
		return ""
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		return isoBrand(string(head[8:12]))
	case bytes.HasPrefix(head, []byte("ID3")):
		return "audio/mpeg"
	case len(head) >= 2 && head[0] == 0xFF && head[1]&0xF0 == 0xF0:
		// An MPEG audio sync word: layer bits 00 are AAC (ADTS), 01 are MP3 (layer III).
		switch head[1] & 0x06 {
		case 0x00:
			return "audio/aac"
		case 0x02:
			return "audio/mpeg"
		}
		return ""
	case len(head) >= 2 && head[0] == 0xFF && head[1]&0xE0 == 0xE0 && head[1]&0x06 == 0x02:
		return "audio/mpeg" // MPEG-2.5 layer III
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}):
		// OLE2: the legacy Word, Excel and PowerPoint formats look alike in their first bytes.
		switch ext {
		case ".xls":
			return "application/vnd.ms-excel"
		case ".ppt", ".pps":
			return "application/vnd.ms-powerpoint"
		}
		return "application/msword"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return officeOpenXML(head, ext)
	}
	return sniffText(head, ext)
}

// isoBrand maps an ISO base media file's major brand to the type WhatsApp takes.
func isoBrand(brand string) string {
	switch {
	case strings.HasPrefix(brand, "3gp"), strings.HasPrefix(brand, "3g2"):
		return "video/3gpp"
	case brand == "M4A " || brand == "M4B ":
		return "audio/mp4"
	case brand == "isom", brand == "iso2", brand == "iso4", brand == "iso5", brand == "iso6",
		brand == "mp41", brand == "mp42", brand == "avc1", brand == "M4V ", brand == "dash", brand == "MSNV":
		return "video/mp4"
	}
	return "" // QuickTime, HEIF/AVIF images and the rest WhatsApp does not take
}

// officeOpenXML recognises a docx, xlsx or pptx from its zip parts' names (the local file
// headers in head). A zip that is not an Office document is refused.
func officeOpenXML(head []byte, ext string) string {
	office, kind := false, ""
	for rest := head; len(rest) >= 30 && bytes.HasPrefix(rest, []byte("PK\x03\x04")); {
		nameLen := int(binary.LittleEndian.Uint16(rest[26:28]))
		extraLen := int(binary.LittleEndian.Uint16(rest[28:30]))
		compSize := int(binary.LittleEndian.Uint32(rest[18:22]))
		if 30+nameLen > len(rest) {
			break
		}
		name := string(rest[30 : 30+nameLen])
		switch {
		case name == "[Content_Types].xml", strings.HasPrefix(name, "_rels/"), strings.HasPrefix(name, "docProps/"):
			office = true
		case strings.HasPrefix(name, "word/"):
			office, kind = true, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
		case strings.HasPrefix(name, "xl/"):
			office, kind = true, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		case strings.HasPrefix(name, "ppt/"):
			office, kind = true, "application/vnd.openxmlformats-officedocument.presentationml.presentation"
		}
		if kind != "" {
			return kind
		}
		// A streamed entry (bit 3) has no size here: the next header cannot be found.
		if binary.LittleEndian.Uint16(rest[6:8])&0x08 != 0 {
			break
		}
		next := 30 + nameLen + extraLen + compSize
		if next <= 0 || next > len(rest) {
			break
		}
		rest = rest[next:]
	}
	if !office {
		return ""
	}
	switch ext { // an Office package whose first parts do not say which
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".pptx":
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	}
	return ""
}

// textRefusedExt are names a plain-text file may not carry: text named as media is a
// spoof (a script named .jpg), and text named as code or markup is what a browser or a
// shell would run.
var textRefusedExt = map[string]bool{
	".jpg": true, ".jpeg": true, ".png": true, ".webp": true, ".gif": true, ".mp4": true, ".3gp": true,
	".mp3": true, ".ogg": true, ".opus": true, ".aac": true, ".amr": true, ".m4a": true, ".pdf": true,
	".doc": true, ".docx": true, ".xls": true, ".xlsx": true, ".ppt": true, ".pptx": true,
	".html": true, ".htm": true, ".xhtml": true, ".svg": true, ".xml": true, ".js": true, ".mjs": true,
	".sh": true, ".bash": true, ".php": true, ".py": true, ".pl": true, ".rb": true, ".exe": true,
	".bat": true, ".cmd": true, ".ps1": true, ".vbs": true, ".hta": true, ".jar": true,
}

// sniffText accepts plain text (a text/plain document): UTF-8 without NULs that neither
// Go's sniffer nor a look at its start takes for markup or a script.
func sniffText(head []byte, ext string) string {
	if len(head) == 0 || textRefusedExt[ext] {
		return ""
	}
	if !strings.HasPrefix(http.DetectContentType(head), "text/plain") {
		return "" // HTML, XML (SVG), and binary formats Go knows and WhatsApp does not
	}
	body := head
	if len(body) == SniffWindow { // the window may cut a rune in two
		for i := 0; i < utf8.UTFMax && len(body) > 0 && !utf8.Valid(body); i++ {
			body = body[:len(body)-1]
		}
	}
	if !utf8.Valid(body) || bytes.IndexByte(body, 0) >= 0 {
		return ""
	}
	start := bytes.TrimLeftFunc(bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF")), unicode.IsSpace)
	lower := bytes.ToLower(start[:min(len(start), 64)])
	for _, p := range []string{"#!", "<", "%!ps", "{\\rtf"} {
		if bytes.HasPrefix(lower, []byte(p)) {
			return ""
		}
	}
	return "text/plain"
}

// SanitizeFilename keeps a client's file name for display only: its last path element,
// without control characters, quotes or separators, at most 200 bytes; "" when nothing
// usable is left. It never names where the file is kept.
func SanitizeFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), r == '"', r == '/', r == '\\', r == ':', r == '*', r == '?', r == '<', r == '>', r == '|':
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}
