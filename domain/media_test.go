package domain_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

// zipEntry is a stored (uncompressed) zip local file header with its data.
func zipEntry(name string, data []byte) []byte {
	h := make([]byte, 30)
	copy(h, "PK\x03\x04")
	binary.LittleEndian.PutUint32(h[18:22], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[22:26], uint32(len(data)))
	binary.LittleEndian.PutUint16(h[26:28], uint16(len(name)))
	return append(append(h, name...), data...)
}

func TestSniffMedia(t *testing.T) {
	t.Parallel()
	ogg := append([]byte("OggS\x00\x02"), make([]byte, 22)...)
	ogg = append(ogg, []byte("OpusHead\x01\x02")...)
	vorbis := append(append([]byte("OggS\x00\x02"), make([]byte, 23)...), []byte("\x01vorbis")...)
	docx := append(zipEntry("[Content_Types].xml", []byte("<Types/>")), zipEntry("word/document.xml", []byte("<w/>"))...)
	xlsx := append(zipEntry("[Content_Types].xml", []byte("<Types/>")), zipEntry("xl/workbook.xml", []byte("<x/>"))...)
	pptx := append(zipEntry("[Content_Types].xml", []byte("<Types/>")), zipEntry("ppt/presentation.xml", []byte("<p/>"))...)
	ole := []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0}
	cases := []struct {
		name, file string
		head       []byte
		want       string
	}{
		{"jpeg", "a.jpg", []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF"), "image/jpeg"},
		{"png", "a.png", []byte("\x89PNG\r\n\x1a\n\x00\x00"), "image/png"},
		{"webp sticker", "s.webp", []byte("RIFF\x10\x00\x00\x00WEBPVP8 "), "image/webp"},
		{"pdf", "i.pdf", []byte("%PDF-1.7\n"), "application/pdf"},
		{"amr", "v.amr", []byte("#!AMR\n\x3c"), "audio/amr"},
		{"ogg opus", "v.ogg", ogg, "audio/ogg"},
		{"ogg vorbis refused", "v.ogg", vorbis, ""},
		{"mp4", "v.mp4", []byte("\x00\x00\x00\x18ftypmp42\x00\x00"), "video/mp4"},
		{"3gpp", "v.3gp", []byte("\x00\x00\x00\x18ftyp3gp5\x00\x00"), "video/3gpp"},
		{"m4a", "a.m4a", []byte("\x00\x00\x00\x18ftypM4A \x00\x00"), "audio/mp4"},
		{"quicktime refused", "v.mov", []byte("\x00\x00\x00\x14ftypqt  \x00\x00"), ""},
		{"heic refused", "p.heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00"), ""},
		{"mp3 id3", "a.mp3", []byte("ID3\x04\x00"), "audio/mpeg"},
		{"mp3 frame", "a.mp3", []byte{0xFF, 0xFB, 0x90, 0x00}, "audio/mpeg"},
		{"aac adts", "a.aac", []byte{0xFF, 0xF1, 0x50, 0x80}, "audio/aac"},
		{"docx", "x.docx", docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"xlsx", "x.bin", xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"pptx", "", pptx, "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
		{"office package named by extension", "r.xlsx", zipEntry("[Content_Types].xml", []byte("<Types/>")), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"office package without a kind", "r.zip", zipEntry("[Content_Types].xml", []byte("<Types/>")), ""},
		{"plain zip refused", "photos.zip", zipEntry("a.jpg", []byte("\xFF\xD8\xFF")), ""},
		{"zip named docx refused", "evil.docx", zipEntry("payload.exe", []byte("MZ")), ""},
		{"doc", "old.doc", ole, "application/msword"},
		{"xls", "old.xls", ole, "application/vnd.ms-excel"},
		{"ppt", "old.ppt", ole, "application/vnd.ms-powerpoint"},
		{"text", "notes.txt", []byte("Order 1234: two boxes\n"), "text/plain"},
		{"text without a name", "", []byte("hello"), "text/plain"},
		{"script named .jpg", "cat.jpg", []byte("#!/bin/sh\nrm -rf /\n"), ""},
		{"plain text named .jpg", "cat.jpg", []byte("alert(1)"), ""},
		{"script named .txt", "a.txt", []byte("#!/usr/bin/env python\nprint(1)"), ""},
		{"html named .jpg", "cat.jpg", []byte("<!DOCTYPE html><html><script>alert(1)</script>"), ""},
		{"html named .txt", "a.txt", []byte("  <html><body>x</body></html>"), ""},
		{"svg", "a.svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), ""},
		{"svg named .png", "a.png", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), ""},
		{"php", "a.txt", []byte("<?php system($_GET['c']); ?>"), ""},
		{"javascript named .js", "a.js", []byte("alert(1)"), ""},
		{"gif refused", "a.gif", []byte("GIF89a\x01\x00"), ""},
		{"exe refused", "a.pdf", []byte("MZ\x90\x00\x03\x00\x00\x00"), ""},
		{"elf refused", "a.txt", []byte("\x7fELF\x02\x01\x01"), ""},
		{"binary refused", "a.txt", []byte{0, 1, 2, 3, 4}, ""},
		{"empty refused", "a.txt", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, domain.SniffMedia(c.head, c.file))
		})
	}
}

func TestMediaLimitsAndKinds(t *testing.T) {
	t.Parallel()
	for mime, want := range map[string]int64{
		"image/jpeg": 5 << 20, "image/png": 5 << 20, "image/webp": 500 << 10, "audio/ogg": 16 << 20,
		"video/mp4": 16 << 20, "application/pdf": 100 << 20, "text/plain; charset=utf-8": 100 << 20,
	} {
		got, ok := domain.MediaLimit(mime)
		require.True(t, ok, mime)
		require.Equal(t, want, got, mime)
	}
	_, ok := domain.MediaLimit("text/html")
	require.False(t, ok)
	require.Equal(t, domain.MediaSticker, domain.MediaKind("image/webp"))
	require.True(t, domain.MediaFitsType("image/png", "image"))
	require.True(t, domain.MediaFitsType("image/png", "document"))
	require.False(t, domain.MediaFitsType("application/pdf", "image"))
	require.False(t, domain.MediaFitsType("image/webp", "image"))
	require.True(t, domain.MediaFitsType("image/webp", "sticker"))
}

func TestMediaKeyIsGenerated(t *testing.T) {
	t.Parallel()
	ws, id := domain.NewID(), domain.NewID()
	key := domain.MediaKey(ws, id)
	require.Equal(t, ws.String()+"/"+id.String(), key)
	require.True(t, strings.HasPrefix(key, domain.MediaPrefix(ws)))
	require.NotContains(t, key, "..")
}

func TestSanitizeFilename(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"invoice.pdf":                "invoice.pdf",
		"../../etc/passwd":           "passwd",
		`..\..\windows\system32.dll`: "system32.dll",
		"/abs/path/a.jpg":            "a.jpg",
		"..":                         "",
		".hidden":                    "hidden",
		"a\x00b\r\n.txt":             "ab.txt",
		`q"uo<te>.txt`:               "quote.txt",
		strings.Repeat("é", 150):     strings.Repeat("é", 100),
	} {
		require.Equal(t, want, domain.SanitizeFilename(in), in)
	}
}

func TestMediaSendableOn(t *testing.T) {
	t.Parallel()
	at := time.Now()
	m := domain.Media{SendMediaID: "123", SendPhoneNumberID: "p1", SendUploadedAt: &at}
	require.Equal(t, "123", m.SendableOn("p1", at.Add(time.Hour)))
	require.Empty(t, m.SendableOn("p2", at.Add(time.Hour)), "another number uploads again")
	require.Empty(t, m.SendableOn("p1", at.Add(30*24*time.Hour)), "past Meta's 30 days uploads again")
	require.Empty(t, domain.Media{}.SendableOn("p1", at))
}

// FuzzSniffMedia: any bytes under any name give a type WhatsApp takes or "", never a
// panic; text the sniffer accepts is valid UTF-8 that starts with no markup or shebang.
func FuzzSniffMedia(f *testing.F) {
	f.Add([]byte("\xFF\xD8\xFF\xE0"), "a.jpg")
	f.Add([]byte("#!/bin/sh\n"), "a.jpg")
	f.Add([]byte("<html>"), "a.txt")
	f.Add(zipEntry("[Content_Types].xml", []byte("<Types/>")), "a.docx")
	f.Add([]byte("OggS\x00\x02OpusHead"), "a.ogg")
	f.Add([]byte("\x00\x00\x00\x18ftypmp42"), "a.mp4")
	f.Fuzz(func(t *testing.T, head []byte, name string) {
		if len(head) > domain.SniffWindow {
			head = head[:domain.SniffWindow]
		}
		got := domain.SniffMedia(head, name)
		if got == "" {
			return
		}
		if _, ok := domain.MediaLimit(got); !ok {
			t.Fatalf("sniffed %q, which WhatsApp does not take", got)
		}
		if got == "text/plain" {
			trimmed := bytes.TrimLeft(head, " \t\r\n\f\v\xEF\xBB\xBF")
			if bytes.HasPrefix(trimmed, []byte("<")) || bytes.HasPrefix(trimmed, []byte("#!")) || bytes.IndexByte(head, 0) >= 0 {
				t.Fatalf("accepted %q as text", head)
			}
		}
	})
}
