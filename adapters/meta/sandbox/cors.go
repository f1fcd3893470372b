package sandbox

import "net/http"

// allowBrowsers lets a page of another origin call the developer API under /_sandbox/:
// the web console under `make run` creates its one-click account and simulates customers
// from the browser. The sandbox is a local development tool that holds no real data, and
// its developer API needs no credentials anyway. It reports whether the request was a
// preflight, which is answered here.
func allowBrowsers(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Origin") == "" {
		return false
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		hd.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
		hd.Set("Access-Control-Allow-Headers", "Content-Type")
		hd.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}
