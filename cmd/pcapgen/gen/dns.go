package gen

// DNS messages of the DNS-like flows: a 12-byte header, one question for
// "<letter>.nf." (type A, or AAAA on IPv6) and, in responses, answers that
// point back at the question's name. All lengths are even, which keeps
// the payload pattern after them word-aligned for the checksum.
const (
	dnsQueryLen = 12 + 6 + 4
	dnsTTL      = 300
)

func dnsAnswerLen(v6 bool) int {
	if v6 {
		return 12 + 16
	}
	return 12 + 4
}

// putDNS writes the message of frame s into b, which is exactly its size.
func putDNS(b []byte, servers *serverPool, f *flow, s *frameSpec) {
	qtype := uint16(1) // A
	if f.v6 {
		qtype = 28 // AAAA
	}
	putU16(b[0:], uint16(f.fid)) // transaction id
	flags := uint16(0x0100)      // query, recursion desired
	if !s.fromClient {
		flags = 0x8180 // response, recursion desired and available, no error
	}
	putU16(b[2:], flags)
	putU16(b[4:], 1) // questions
	putU16(b[6:], uint16(s.answers))
	putU32(b[8:], 0) // authority and additional records
	b[12], b[13], b[14], b[15], b[16], b[17] = 1, 'a'+byte(f.fid%26), 2, 'n', 'f', 0
	putU16(b[18:], qtype)
	putU16(b[20:], 1) // class IN
	off := dnsQueryLen
	for i := range uint32(s.answers) {
		putU16(b[off:], 0xc00c) // pointer to the question's name
		putU16(b[off+2:], qtype)
		putU16(b[off+4:], 1)
		putU32(b[off+6:], dnsTTL)
		if f.v6 {
			putU16(b[off+10:], 16)
			copy(b[off+12:off+28], servers.v6[(f.fid+i)%servers6][:])
			off += 28
		} else {
			putU16(b[off+10:], 4)
			putU32(b[off+12:], servers.v4[(f.fid+i)%servers4])
			off += 16
		}
	}
}
