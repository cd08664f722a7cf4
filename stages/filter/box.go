package filter

import "unsafe"

// envBox holds the environment a worker reuses for every record, and an
// interface value that refers to it.
//
// The expression VM reads fields through reflection. Given a pointer, it
// copies every non-pointer field it reads into a new allocation (the
// value is addressable, so reflect must copy it); given a struct value in
// an interface, it reads fields in place, but boxing a ~600-byte struct
// per record allocates too. So the interface here is built once with the
// Env type and a data word pointing at env: the VM sees an Env value and
// reads it without copying, and the stage refills env before each
// record. Results the VM returns may point into env and are valid only
// until the next record; the stage copies what it keeps (window keys).
type envBox struct {
	env Env
	val any
}

// eface is the layout of an empty interface.
type eface struct {
	typ, data unsafe.Pointer
}

func newEnvBox() *envBox {
	b := &envBox{env: Env{funcs: helperFuncs}}
	var v any = Env{}
	(*eface)(unsafe.Pointer(&v)).data = unsafe.Pointer(&b.env)
	b.val = v
	return b
}
