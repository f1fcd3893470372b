package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// hostileTemplates posts template bodies built to hurt a validator (huge, deep, full of
// placeholders or control characters): each must get a 4xx, never a 5xx or a 201.
func (w *world) hostileTemplates(ctx context.Context) *probe {
	p := &probe{name: "templates: huge, deeply nested, control characters, 10,000 placeholders -> 4xx"}
	body := func(components any) map[string]any {
		return map[string]any{"name": "probe_template", "language": "en_US", "category": "UTILITY", "components": components}
	}
	bodyText := func(text string, example any) []any {
		c := map[string]any{"type": "BODY", "text": text}
		if example != nil {
			c["example"] = example
		}
		return []any{c}
	}
	var placeholders strings.Builder
	examples := make([]string, 10_000)
	for i := range 10_000 {
		fmt.Fprintf(&placeholders, "x {{%d}} ", i+1)
		examples[i] = "v"
	}
	deep := strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000)
	many := make([]any, 20_000)
	for i := range many {
		many[i] = map[string]any{"type": "BUTTONS", "buttons": []any{map[string]any{"type": "QUICK_REPLY", "text": "b"}}}
	}
	cases := map[string]any{
		"10,000 positional placeholders": body(bodyText("Hi "+placeholders.String()+"end", map[string]any{"body_text": [][]string{examples}})),
		"10,000 named placeholders":      body(bodyText("Hi "+strings.Repeat("{{a_b}} ", 10_000)+"end", nil)),
		"placeholder 99999999999999999":  body(bodyText("Hi {{99999999999999999999}} end", map[string]any{"body_text": [][]string{{"v"}}})),
		"unclosed placeholders":          body(bodyText("Hi "+strings.Repeat("{{", 50_000), nil)),
		"body of 900,000 characters":     body(bodyText(strings.Repeat("a", 900_000), nil)),
		"control characters":             body(bodyText("Hi \x01\x02\x1b[31m {{1}} end", map[string]any{"body_text": [][]string{{"v"}}})),
		"20,000 components":              body(many),
		"components is an object":        body(map[string]any{"type": "BODY"}),
		"components is a string":         body("BODY"),
		"example nested 5,000 deep":      body(bodyText("Hi {{1}} end", json.RawMessage(deep))),
		"name of 100,000 characters":     map[string]any{"name": strings.Repeat("a", 100_000), "language": "en_US", "category": "UTILITY", "components": bodyText("Hi", nil)},
		"no components":                  map[string]any{"name": "x", "language": "en_US", "category": "UTILITY"},
		"category of another world":      map[string]any{"name": "x", "language": "en_US", "category": "'; DROP TABLE templates; --", "components": bodyText("Hi", nil)},
	}
	for name, b := range cases {
		r, err := w.c.Do(ctx, "POST", "/v1/workspaces/"+w.wsA+"/templates", w.a.Token, b)
		p.try(err == nil && r.Status >= 400 && r.Status < 500, fmt.Sprintf("%s -> %d", name, r.Status))
	}
	return p
}
