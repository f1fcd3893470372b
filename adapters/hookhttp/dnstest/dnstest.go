// Package dnstest is a tiny authoritative DNS server on loopback for tests and probes of
// the webhook sender's address checks (WEBHOOKS_RESOLVER points at it): it answers A
// queries from a table that can change between two lookups, as a rebinding attacker's
// server does. AAAA and unknown names get no address.
package dnstest

import (
	"net"
	"net/netip"
	"strings"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// Server answers over UDP on 127.0.0.1.
type Server struct {
	// Addr is host:port, the value for WEBHOOKS_RESOLVER.
	Addr  string
	pc    net.PacketConn
	mu    sync.Mutex
	names map[string]netip.Addr
}

// Start listens on a free loopback port and answers names (name -> IPv4 address).
func Start(names map[string]string) (*Server, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: pc.LocalAddr().String(), pc: pc, names: map[string]netip.Addr{}}
	for n, a := range names {
		s.Set(n, a)
	}
	go s.serve()
	return s, nil
}

// Set makes name resolve to addr (an IPv4 address) from the next query on.
func (s *Server) Set(name, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[strings.ToLower(strings.TrimSuffix(name, "."))+"."] = netip.MustParseAddr(addr)
}

// Close stops the server.
func (s *Server) Close() error { return s.pc.Close() }

func (s *Server) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if out := s.answer(buf[:n]); out != nil {
			_, _ = s.pc.WriteTo(out, from)
		}
	}
}

func (s *Server) answer(query []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	s.mu.Lock()
	a, ok := s.names[strings.ToLower(q.Name.String())]
	s.mu.Unlock()
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeSuccess}
	if !ok {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	_ = b.StartQuestions()
	_ = b.Question(q)
	_ = b.StartAnswers()
	if ok && q.Type == dnsmessage.TypeA && a.Is4() {
		_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0},
			dnsmessage.AResource{A: a.As4()})
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}
