package domain

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// HookAddressPolicy is what a webhook endpoint may point at (SSRF): https only (plain http
// with AllowHTTP), no credentials in the URL, and public addresses only, unless an address
// is inside Allowed (development and tests: WEBHOOKS_ALLOWED_CIDRS).
type HookAddressPolicy struct {
	AllowHTTP bool
	Allowed   []netip.Prefix
}

// HookTarget is where an endpoint URL sends: its host (a name or an address literal,
// without brackets) and port.
type HookTarget struct {
	Host string
	Port string
}

// HookURLMaxLen bounds an endpoint URL.
const HookURLMaxLen = 2048

// CheckURL reads an endpoint URL and checks what the URL alone says (scheme, no userinfo,
// an address literal's range); a name's addresses are checked by CheckAddr when resolved.
// The reason is for the caller, "" when the URL passes.
func (p HookAddressPolicy) CheckURL(raw string) (HookTarget, string) {
	if len(raw) > HookURLMaxLen {
		return HookTarget{}, "must be at most 2048 characters"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return HookTarget{}, "must be an absolute URL"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return HookTarget{}, "must use https"
		}
	default:
		return HookTarget{}, "must use https"
	}
	if u.User != nil {
		return HookTarget{}, "must not carry a user name or password"
	}
	if u.Fragment != "" {
		return HookTarget{}, "must not have a fragment"
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return HookTarget{}, "must name a host"
	}
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return HookTarget{}, "must have a valid port"
	}
	if strings.HasPrefix(u.Host, "[") {
		// An IPv6 literal; a zone (fe80::1%eth0) is never public.
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return HookTarget{}, "must name a valid host"
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if why := p.CheckAddr(a); why != "" {
			return HookTarget{}, why
		}
	} else if !validHostname(host) {
		return HookTarget{}, "must name a valid host"
	}
	return HookTarget{Host: host, Port: port}, ""
}

// validHostname accepts DNS names (letters, digits, hyphens, underscores, dots), which
// also refuses the decimal, octal and hex forms of IPv4 addresses that some resolvers read
// ("2130706433", "0x7f.1"): a name whose last label is all digits or hex-like is refused.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	last := strings.ToLower(labels[len(labels)-1])
	if _, err := strconv.ParseUint(strings.TrimPrefix(last, "0x"), 16, 64); err == nil && (strings.HasPrefix(last, "0x") ||
		strings.Trim(last, "0123456789") == "") {
		return false // numeric: an address in disguise
	}
	return true
}

// nonPublic are the ranges an endpoint may not reach unless allowed.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network", and the unspecified address
		"10.0.0.0/8",      // RFC 1918
		"100.64.0.0/10",   // carrier-grade NAT
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, and cloud metadata (169.254.169.254)
		"172.16.0.0/12",   // RFC 1918
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.168.0.0/16",  // RFC 1918
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, and broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard
		"2001:db8::/32",   // documentation
		"fc00::/7",        // unique-local (and fd00:ec2::254, a cloud's metadata)
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
		"2002::/16",       // 6to4: embeds an IPv4 address of any range
		"64:ff9b::/96",    // NAT64: embeds an IPv4 address of any range
		"2001::/32",       // Teredo: embeds an obfuscated IPv4 address
		"::ffff:0:0:0/96", // IPv4-translated (SIIT)
		"::/96",           // IPv4-compatible (deprecated)
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// CheckAddr checks one resolved (or literal) address: "" when an endpoint may reach it.
// An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 address it is.
func (p HookAddressPolicy) CheckAddr(a netip.Addr) string {
	if !a.IsValid() {
		return "must resolve to a valid address"
	}
	a = a.WithZone("").Unmap()
	for _, pre := range p.Allowed {
		if pre.Contains(a) {
			return ""
		}
	}
	for _, pre := range nonPublic {
		if pre.Contains(a) {
			return "must not point at a private, loopback, link-local or metadata address"
		}
	}
	return ""
}
