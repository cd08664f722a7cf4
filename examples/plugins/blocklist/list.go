package main

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

// entry is one listed prefix and where it comes from.
type entry struct {
	prefix netip.Prefix
	list   string // the list file as configured
	line   int
}

// set holds the listed prefixes by length, so a lookup costs one map probe
// per distinct prefix length, whatever the size of the lists.
type set struct {
	byBits map[int]map[netip.Prefix]entry
	lens   []int // distinct lengths, longest first: the most specific match wins
	n      int
}

func newSet() *set { return &set{byBits: map[int]map[netip.Prefix]entry{}} }

func (s *set) add(e entry) {
	bits := e.prefix.Bits()
	if e.prefix.Addr().Is4() {
		bits += 96 // IPv4 prefixes are kept in IPv4-mapped IPv6 form
	}
	m := s.byBits[bits]
	if m == nil {
		m = map[netip.Prefix]entry{}
		s.byBits[bits] = m
		s.lens = append(s.lens, bits)
		slices.Sort(s.lens)
		slices.Reverse(s.lens)
	}
	key := netip.PrefixFrom(netip.AddrFrom16(e.prefix.Addr().As16()), bits).Masked()
	if _, dup := m[key]; !dup {
		s.n++
		m[key] = e
	}
}

// lookup returns the most specific listed prefix holding a.
func (s *set) lookup(a netip.Addr) (entry, bool) {
	if !a.IsValid() {
		return entry{}, false
	}
	a16 := netip.AddrFrom16(a.As16()) // IPv4 as IPv4-mapped, zone dropped
	for _, bits := range s.lens {
		p, err := a16.Prefix(bits)
		if err != nil {
			continue
		}
		if e, ok := s.byBits[bits][p]; ok {
			return e, true
		}
	}
	return entry{}, false
}

// parseList reads one list: an address or CIDR prefix per line, '#'
// starts a comment. It reports the first bad line by number.
func parseList(r io.Reader, name string, s *set) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(text, "/") {
			p, err = netip.ParsePrefix(text)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(text)
			if err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || p.Addr().Zone() != "" {
			return fmt.Errorf("line %d: %q is not an address or CIDR prefix, e.g. 192.0.2.0/24 or 2001:db8::1", line, text)
		}
		s.add(entry{prefix: p.Masked(), list: name, line: line})
	}
	return sc.Err()
}

// stamp identifies a version of a list file.
type stamp struct {
	mod  time.Time
	size int64
}

// loadLists reads every list; on error it names the list by its index.
func loadLists(paths []string) (*set, []stamp, error) {
	s := newSet()
	stamps := make([]stamp, len(paths))
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, &listError{i, fmt.Sprintf("cannot read %s: %v", p, err)}
		}
		fi, err := f.Stat()
		if err == nil {
			stamps[i] = stamp{fi.ModTime(), fi.Size()}
			err = parseList(f, p, s)
		}
		f.Close()
		if err != nil {
			return nil, nil, &listError{i, fmt.Sprintf("%s: %v", p, err)}
		}
	}
	return s, stamps, nil
}

// listError is a problem with the i-th list.
type listError struct {
	index int
	msg   string
}

func (e *listError) Error() string { return e.msg }

// changed reports whether any list differs from its stamp (or vanished).
func changed(paths []string, stamps []stamp) bool {
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.ModTime().Equal(stamps[i].mod) || fi.Size() != stamps[i].size {
			return true
		}
	}
	return false
}
