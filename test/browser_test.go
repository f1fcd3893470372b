package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
)

// The web console in a real Chromium (headless) against the whole app, Postgres and the
// Meta sandbox: sign up, connect a sandbox number, a customer's message arriving live,
// a reply whose ticks reach read, a template campaign to three contacts, the XSS message
// shown as text, a viewer without a send button. Each screen is saved under
// test/screenshots/ (git-ignored), and the first load's page weight is printed.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	sb, _, point, setTarget := withSandboxCallback(t)
	// The Graph URL is the sandbox on loopback: the console offers it. Webhook endpoints may
	// be on loopback too (a local receiver).
	a := startApp(t, point, withLocalHooks)
	setTarget(a.URL)

	// First load: the login screen, and what it weighs (compressed, as transferred).
	b.do(chromedp.Navigate(a.URL+"/"), chromedp.WaitVisible(chromedp.CSS("input[name=email]")))
	weight := b.eval(`(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		const res = performance.getEntriesByType('resource');
		return {bytes: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0), files: 1 + res.length};
	})()`).(map[string]any)
	line := fmt.Sprintf("console first load: %.0f bytes compressed in %.0f files (target < 300 KB)", weight["bytes"], weight["files"])
	t.Log(line)
	require.NoError(t, os.MkdirAll("screenshots", 0o755))
	require.NoError(t, os.WriteFile(filepath.Join("screenshots", "page-weight.txt"), []byte(line+"\n"), 0o644))
	require.Less(t, weight["bytes"].(float64), 300_000.0)
	b.shot("login")

	// Sign up, create a workspace, connect a sandbox number with one click.
	email := fmt.Sprintf("ana-%d@example.com", userSeq.Add(1))
	b.do(chromedp.Click(chromedp.CSS(`a[href="#/signup"]`)), chromedp.WaitVisible(chromedp.CSS("input[name=name]")),
		chromedp.SendKeys(chromedp.CSS("input[name=name]"), "Ana"),
		chromedp.SendKeys(chromedp.CSS("input[name=email]"), email),
		chromedp.SendKeys(chromedp.CSS("input[name=password]"), "correct horse battery"))
	b.clickButton("Sign up")
	b.wait(`[...document.querySelectorAll('button')].some(x => x.textContent === 'Create the workspace')`, 10*time.Second, "the workspace picker")
	b.do(chromedp.SendKeys(chromedp.CSS("input[name=name]"), "Acme"))
	b.shot("workspaces")
	b.clickButton("Create the workspace")
	b.clickButton("Connect a sandbox number")
	b.wait(`document.querySelector('.status.connected')`, 20*time.Second, "the sandbox number should connect")
	b.shot("numbers")
	owner := user{Email: email}
	owner.Token = a.Must(t, 200, "POST", "/v1/auth/login", "", map[string]string{"email": email, "password": "correct horse battery"})["access_token"].(string)
	var ws, phoneID string
	require.NoError(t, a.Pool.QueryRow(context.Background(), `SELECT workspace_id, phone_number_id FROM phone_numbers`).Scan(&ws, &phoneID))

	// A customer writes in: the conversation appears without a reload.
	b.do(chromedp.Click(chromedp.CSS(`a[href="#/inbox"]`)), chromedp.WaitVisible(chromedp.CSS(".inbox")))
	b.wait(`document.querySelector('.live:not(.down)')`, 10*time.Second, "the event stream should be open")
	_, err := sb.InjectInbound(sandbox.Inbound{PhoneNumberID: phoneID, From: "14155550123", Name: "José", Text: "Is my order shipped?"})
	require.NoError(t, err)
	b.wait(`[...document.querySelectorAll('button.conv')].some(c => c.textContent.includes('Is my order shipped?'))`, 15*time.Second, "the conversation should appear live")
	b.shot("inbox")
	b.do(chromedp.Click(chromedp.CSS("button.conv")), chromedp.WaitVisible(chromedp.CSS(".msg.inbound")))

	// Reply; the ticks follow the sandbox's sent, delivered and read.
	b.do(chromedp.SendKeys(chromedp.ID("reply"), "Yes, today."), chromedp.Click(chromedp.CSS("button[data-action=send]")))
	b.wait(`document.querySelector('.msg.outbound .ticks.read')`, 20*time.Second, "the reply's ticks should reach read")
	require.Equal(t, "Yes, today.", b.eval(`document.querySelector('.msg.outbound').firstChild.textContent`))

	// An attachment: uploaded (number before file), then sent as an image by our media id.
	b.do(chromedp.SetUploadFiles(chromedp.CSS(".composer input[type=file]"), []string{pngFile(t)}))
	b.wait(`document.querySelector('[data-file]').textContent.startsWith('receipt.png')`, 5*time.Second, "the chosen file")
	b.do(chromedp.SendKeys(chromedp.ID("reply"), "Your receipt"), chromedp.Click(chromedp.CSS("button[data-action=send]")))
	b.wait(`[...document.querySelectorAll('.msg.outbound')].some(m => m.firstChild.textContent === '[image] Your receipt' && m.querySelector('.ticks.read'))`, 20*time.Second, "the image sent and read")
	b.shot("thread-attachment")

	// The stream drops and comes back (a new ticket, resuming); then the hostile message
	// arrives and is shown as its characters.
	b.eval(`window.dispatchEvent(new Event('console-drop-live')), true`)
	b.wait(`document.querySelector('.live.down')`, 5*time.Second, "the stream should be down")
	b.wait(`document.querySelector('.live:not(.down)')`, 15*time.Second, "the stream should reconnect")
	const xss = `<img src=x onerror=alert(1)>`
	_, err = sb.InjectInbound(sandbox.Inbound{PhoneNumberID: phoneID, From: "14155550123", Name: "José", Text: xss})
	require.NoError(t, err)
	b.wait(`document.querySelectorAll('.msg.inbound').length === 2`, 15*time.Second, "the second message should appear live")
	require.Equal(t, xss, b.eval(`[...document.querySelectorAll('.msg.inbound')].pop().firstChild.textContent`))
	require.Equal(t, 0.0, b.eval(`document.querySelectorAll('img').length`))
	b.shot("thread")

	// A template, reviewed by the sandbox; three contacts; a campaign to them.
	b.do(chromedp.Click(chromedp.CSS(`a[href="#/templates"]`)), chromedp.WaitVisible(chromedp.CSS("textarea[name=body]")),
		chromedp.SendKeys(chromedp.CSS("form input[name=name][pattern]"), "order_ready"),
		chromedp.SendKeys(chromedp.CSS("textarea[name=body]"), "Hello {{1}}, your order is ready."),
		chromedp.SendKeys(chromedp.CSS("input[name=examples]"), "Ana"))
	b.clickButton("Submit for review")
	b.wait(`document.querySelector('tr[data-name=order_ready] .status.APPROVED')`, 20*time.Second, "the template should be approved")
	b.shot("templates")
	for _, name := range []string{"Bea", "Cy", "Di"} {
		a.Must(t, 201, "POST", "/v1/workspaces/"+ws+"/contacts", owner.Token, map[string]any{"phone": nextPhone(), "name": name, "tags": []string{"spring"}})
	}
	b.do(chromedp.Click(chromedp.CSS(`a[href="#/contacts"]`)))
	b.wait(`document.querySelectorAll('tbody tr[data-id]').length === 4`, 10*time.Second, "four contacts")
	b.shot("contacts")

	b.do(chromedp.Click(chromedp.CSS(`a[href="#/campaigns"]`)), chromedp.WaitVisible(chromedp.CSS("select[name=template]")),
		chromedp.SendKeys(chromedp.CSS("input[name=name]"), "Orders ready"))
	b.choose("select[name=template]", "order_ready (en_US)")
	b.do(chromedp.SendKeys(chromedp.CSS("input[name=body_1]"), "{{contact.name|there}}"))
	b.choose("select[name=audience]", "Contacts with tags")
	b.do(chromedp.SendKeys(chromedp.CSS("input[name=tags]"), "spring"))
	b.clickButton("Estimate cost")
	b.wait(`[...document.querySelectorAll('.ok')].some(e => e.textContent.includes('Estimated cost') && e.textContent.includes('3 messages'))`, 10*time.Second, "the estimate")
	b.clickButton("Create draft")
	b.clickButton("Launch")
	b.wait(`document.querySelector('h1 + p .status.completed')`, 30*time.Second, "the campaign should complete")
	b.wait(`document.querySelector('[data-stat=read] b').textContent === '3'`, 20*time.Second, "three read")
	require.Equal(t, "3", b.eval(`document.querySelector('[data-stat=recipients] b').textContent`))
	require.Equal(t, "0", b.eval(`document.querySelector('[data-stat=failed] b').textContent`))
	b.shot("campaign")

	// A recipient's thread: the 24-hour window is closed, so the composer is a template picker.
	b.do(chromedp.Click(chromedp.CSS(`a[href="#/inbox"]`)))
	b.wait(`[...document.querySelectorAll('button.conv')].find(c => c.textContent.includes('Bea'))`, 10*time.Second, "Bea's conversation")
	b.eval(`[...document.querySelectorAll('button.conv')].find(c => c.textContent.includes('Bea')).click(), true`)
	b.do(chromedp.WaitVisible(chromedp.CSS("button[data-action=send-template]")))
	b.choose(".composer select[name=template]", "order_ready (en_US)")
	b.do(chromedp.WaitVisible(chromedp.CSS(".composer input[name=body_1]")))
	b.shot("thread-template")

	b.do(chromedp.Click(chromedp.CSS(`a[href="#/audit"]`)))
	b.wait(`[...document.querySelectorAll('td')].some(td => td.textContent === 'campaign.launched')`, 10*time.Second, "the audit log")
	b.shot("audit")
	b.do(chromedp.Click(chromedp.CSS(`a[href="#/settings"]`)))
	b.wait(`[...document.querySelectorAll('td')].some(td => td.textContent === '`+email+`')`, 10*time.Second, "the members")
	b.shot("settings")
	settingsSection := func(sec string) {
		b.t.Helper()
		b.do(chromedp.Click(chromedp.CSS(`a[href="#/settings/` + sec + `"]`)))
		b.wait(`location.hash === '#/settings/`+sec+`' && document.querySelector('main [data-section=`+sec+`][data-ready]')`, 10*time.Second, "settings "+sec)
		require.Equal(t, false, b.eval(`!!document.querySelector('main [data-section] .error')`), "settings %s: %s", sec, b.page())
	}

	// Webhooks: an endpoint on a local receiver, its secret shown once, a test ping that
	// the delivery log shows succeeded.
	rcv := newReceiver(t)
	settingsSection("webhooks")
	b.do(chromedp.SendKeys(chromedp.CSS("input[name=url]"), rcv.URL+"/hooks"))
	b.clickButton("Add endpoint")
	b.wait(`document.querySelector('[data-secret]') && document.querySelector('[data-secret]').textContent.startsWith('whsec_')`, 10*time.Second, "the secret")
	b.shot("settings-webhooks-secret")
	b.clickButton("Send test")
	b.wait(`document.querySelector('tr[data-status=succeeded]') && document.querySelector('tr[data-status=succeeded]').textContent.includes('ping')`, 20*time.Second, "the ping delivered")
	require.Equal(t, 1, rcv.count())
	require.Contains(t, string(rcv.all()[0].Body), `"type":"ping"`)
	b.shot("settings-webhooks")
	settingsSection("automation")
	settingsSection("webhooks")
	require.Equal(t, false, b.eval(`!!document.querySelector('[data-secret]')`), "the secret is shown only once")

	// Automation: a keyword rule with a reply and a tag, then the dry run in the page.
	settingsSection("automation")
	b.do(chromedp.SendKeys(chromedp.CSS("form[data-rule-form] input[name=name]"), "Prices"),
		chromedp.SendKeys(chromedp.CSS("form[data-rule-form] textarea[name=keywords]"), "price, cost"))
	b.clickButton("Add action")
	b.do(chromedp.SendKeys(chromedp.CSS("textarea[name=action_text]"), "Our prices are on acme.example/prices."))
	b.choose("select[name=add_action]", "Add a tag")
	b.clickButton("Add action")
	b.do(chromedp.SendKeys(chromedp.CSS("input[name=action_tag]"), "lead"))
	b.clickButton("Add rule")
	b.wait(`document.querySelector('tr[data-rule=Prices]')`, 10*time.Second, "the rule in the list")
	b.do(chromedp.SendKeys(chromedp.CSS("form:has([data-dry-run]) input[name=text]"), "What does it COST?"))
	b.clickButton("Try it")
	b.wait(`document.querySelector('[data-dry-run] .ok') && document.querySelector('[data-dry-run] .ok').textContent.includes('Prices')`, 10*time.Second, "the dry run")
	require.Contains(t, b.eval(`document.querySelector('[data-dry-run]').textContent`), "tag lead")
	b.shot("settings-automation")
	b.eval(`[...document.querySelectorAll('tr[data-rule=Prices] button')].find(x => x.textContent === 'Edit').click(), true`)
	b.wait(`document.querySelector('form[data-rule-form] input[name=name]').value === 'Prices' && document.querySelectorAll('form[data-rule-form] .action').length === 2`, 5*time.Second, "the rule in the editor")
	b.eval(`(() => { const p = document.querySelector('form[data-rule-form] input[name=priority]'); p.value = '7'; return true; })()`)
	b.clickButton("Save rule")
	b.wait(`document.querySelector('tr[data-rule=Prices] td:nth-child(4)').textContent === '7'`, 10*time.Second, "the edited priority")

	// Working hours: a zone, Monday's hours and a holiday; read back after leaving the section.
	settingsSection("hours")
	b.choose("select[name=timezone]", "Europe/Lisbon")
	b.eval(`document.querySelector('tr[data-day=mon] button').click(), true`)
	b.eval(`document.querySelector('tr[data-day=tue] button').click(), true`)
	b.eval(`(() => { const d = document.querySelector('input[name=holiday]'); d.value = '2026-12-25'; return true; })()`)
	b.clickButton("Add holiday")
	b.clickButton("Save working hours")
	b.wait(`[...document.querySelectorAll('[data-section=hours] .ok')].some(e => e.textContent === 'Saved.')`, 10*time.Second, "the hours saved")
	settingsSection("webhooks")
	settingsSection("hours")
	require.Equal(t, "Europe/Lisbon", b.eval(`document.querySelector('select[name=timezone]').value`))
	require.Equal(t, []any{"09:00", "18:00"}, b.eval(`[...document.querySelectorAll('tr[data-day=mon] input')].map(i => i.value)`))
	require.Equal(t, 0.0, b.eval(`document.querySelectorAll('tr[data-day=wed] input').length`))
	require.Equal(t, "2026-12-25", b.eval(`document.querySelector('li[data-date]').dataset.date`))
	hoursNow := a.Must(t, 200, "GET", "/v1/workspaces/"+ws+"/settings/working-hours", owner.Token, nil)
	require.Equal(t, "Europe/Lisbon", hoursNow["timezone"])
	require.Len(t, hoursNow["days"], 2)
	b.shot("settings-hours")
	settingsSection("inbox")
	b.shot("settings-inbox")

	// A viewer: the same thread without a composer, nor any action the API would refuse.
	viewer := a.addMember(t, ws, owner, "viewer")
	b.clickButton("Sign out")
	b.wait(`document.querySelector('input[autocomplete=current-password]')`, 10*time.Second, "the login form")
	b.do(chromedp.SendKeys(chromedp.CSS("input[name=email]"), viewer.Email),
		chromedp.SendKeys(chromedp.CSS("input[name=password]"), "correct horse battery"))
	b.clickButton("Log in")
	b.wait(`[...document.querySelectorAll('button.conv')].find(c => c.textContent.includes('José'))`, 10*time.Second, "José's conversation")
	b.eval(`[...document.querySelectorAll('button.conv')].find(c => c.textContent.includes('José')).click(), true`)
	b.do(chromedp.WaitVisible(chromedp.CSS(".msg.inbound")))
	require.Equal(t, true, b.eval(`!document.querySelector('[data-action=send], [data-action=send-template], #reply, .composer form')`))
	require.Equal(t, false, b.eval(`[...document.querySelectorAll('button')].some(x => /^(Send|Resolve|Take|Add note)/.test(x.textContent))`))
	require.Equal(t, false, b.eval(`!!document.querySelector('a[href="#/audit"]')`), "a viewer has no audit log")
	b.do(chromedp.EmulateViewport(390, 844))
	b.shot("viewer-thread-390")
	// The viewer's settings: endpoints, deliveries and rules to read, no button to change them.
	for _, sec := range []string{"webhooks", "automation", "hours"} {
		b.do(chromedp.Click(chromedp.CSS(`a[href="#/settings"]`)))
		settingsSection(sec)
		require.Equal(t, false, b.eval(`[...document.querySelectorAll('main button')].some(x => /^(Add|Save|Delete|Edit|Send test|Rotate|Disable|Enable|Retry|Remove)/.test(x.textContent))`), sec+": "+b.page())
	}
	settingsSection("webhooks")
	b.eval(`document.querySelector('button[data-action=deliveries]').click(), true`)
	b.wait(`document.querySelector('tr[data-status=succeeded]')`, 10*time.Second, "the viewer reads the deliveries")
	require.Equal(t, false, b.eval(`[...document.querySelectorAll('main button')].some(x => x.textContent === 'Retry')`))
	b.shot("viewer-webhooks-390")
	settingsSection("automation")
	b.do(chromedp.SendKeys(chromedp.CSS("form:has([data-dry-run]) input[name=text]"), "price?"))
	b.clickButton("Try it")
	b.wait(`document.querySelector('[data-dry-run] .ok')`, 10*time.Second, "the viewer's dry run")
	b.do(chromedp.Click(chromedp.CSS(`a[href="#/inbox"]`)))
	b.wait(`[...document.querySelectorAll('button.conv')].find(c => c.textContent.includes('José'))`, 10*time.Second, "José's conversation")
	b.eval(`[...document.querySelectorAll('button.conv')].find(c => c.textContent.includes('José')).click(), true`)
	b.do(chromedp.WaitVisible(chromedp.CSS(".msg.inbound")))
	b.do(chromedp.Click(chromedp.CSS("a.back")), chromedp.WaitVisible(chromedp.CSS("button.conv")))
	b.shot("viewer-inbox-390")

	// The access token expires: the next call refreshes it and the console carries on. The
	// tokens live only in the page's memory: nothing is stored, and a reload means login.
	a.Clock.Advance(20 * time.Minute)
	b.do(chromedp.EmulateViewport(1280, 800), chromedp.Click(chromedp.CSS(`a[href="#/contacts"]`)))
	b.wait(`document.querySelectorAll('tbody tr[data-id]').length === 4`, 10*time.Second, "contacts after a refresh")
	require.Equal(t, "#/contacts", b.eval(`location.hash`))
	b.wait(`document.querySelector('.live:not(.down)')`, 20*time.Second, "the stream, with a new ticket")
	require.Equal(t, 0.0, b.eval(`localStorage.length + sessionStorage.length + document.cookie.length`))
	b.do(chromedp.Reload())
	b.wait(`document.querySelector('input[autocomplete=current-password]')`, 10*time.Second, "login after a reload")
}

// browser is a headless Chromium tab for one test.
type browser struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	// exceptions are the page's uncaught JavaScript errors: the test fails with any.
	exceptions []string
}

// newBrowser starts Debian's chromium, or skips the test without it (unless
// REQUIRE_BROWSER=1, which CI sets).
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("REQUIRE_BROWSER") == "1" {
			t.Fatal("REQUIRE_BROWSER=1 but no chromium on PATH (Debian: apt-get install chromium)")
		}
		t.Skip("no chromium on PATH: the browser tests need it (Debian: apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		// This machine's network is closed: without these chromium's own connections fail.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	b.do() // start the browser (its lifetime is this context's)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.exceptions = append(b.exceptions, (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.exceptions) > 0 {
			t.Errorf("uncaught JavaScript errors in the console: %v", b.exceptions)
		}
	})
	b.do(chromedp.EmulateViewport(1280, 800))
	return b
}

// do runs steps, each bounded so that a missing element fails the test instead of hanging it.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if len(steps) == 0 {
		require.NoError(b.t, chromedp.Do(b.ctx))
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	for i, s := range steps {
		_, err := chromedp.Run(ctx, s)
		require.NoError(b.t, err, "step %d; page: %s", i, b.page())
	}
}

func (b *browser) eval(expr string) any {
	b.t.Helper()
	var v any
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage](expr))
	require.NoError(b.t, err, expr)
	require.NoError(b.t, json.Unmarshal(raw, &v))
	return v
}

// wait polls a JavaScript condition until it holds.
func (b *browser) wait(cond string, timeout time.Duration, what string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond)))
	require.NoError(b.t, err, "%s; page: %s", what, b.page())
}

// clickButton clicks the enabled button with this text once it is there.
func (b *browser) clickButton(text string) {
	b.t.Helper()
	find := `[...document.querySelectorAll('button')].find(x => x.textContent.trim() === ` + jsString(text) + ` && !x.disabled && x.offsetParent)`
	b.wait(find, 15*time.Second, "button "+text)
	b.eval(find + `.click(), true`)
}

// choose selects the option with this text, as a person would (a change event).
func (b *browser) choose(sel, option string) {
	b.t.Helper()
	b.wait(`[...document.querySelector(`+jsString(sel)+`).options].some(o => o.text === `+jsString(option)+`)`, 10*time.Second, "option "+option)
	b.eval(`(() => { const s = document.querySelector(` + jsString(sel) + `);
		s.value = [...s.options].find(o => o.text === ` + jsString(option) + `).value;
		s.dispatchEvent(new Event('change')); return true; })()`)
}

// shot saves a screenshot of the viewport as screenshots/<name>.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	require.NoError(b.t, err)
	require.NoError(b.t, os.MkdirAll("screenshots", 0o755))
	require.NoError(b.t, os.WriteFile(filepath.Join("screenshots", name+".png"), png, 0o644))
}

// page is the page's text, for failure messages.
func (b *browser) page() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + ' | ' + document.body.innerText`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return strings.Join(strings.Fields(s), " ")
}

// pngFile writes a small PNG named receipt.png and returns its path.
func pngFile(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	path := filepath.Join(t.TempDir(), "receipt.png")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }
