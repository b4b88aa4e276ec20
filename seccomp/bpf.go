package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// Program is a compiled filter.
type Program []unix.SockFilter

// Arch is an architecture burrow builds filters for.
type Arch struct {
	Name  string // GOARCH
	Audit uint32 // AUDIT_ARCH_ value in seccomp_data.arch
	// X32Bit, if non-zero, marks the numbers of a second ABI sharing the
	// audit value (x32 on x86_64): such calls kill the process.
	X32Bit   uint32
	Syscalls map[string]uint32
	// Compat are the 32-bit ABIs a process of this architecture can
	// also call the kernel with (int 0x80 on x86_64; AArch32 on arm64):
	// the same rules apply to them, with their own numbers.
	Compat []Arch
}

var (
	i386  = Arch{Name: "386", Audit: unix.AUDIT_ARCH_I386, Syscalls: syscallsI386}
	arm32 = Arch{Name: "arm", Audit: unix.AUDIT_ARCH_ARM, Syscalls: syscallsArm}
)

// Arches are the architectures with system call tables.
var Arches = map[string]Arch{
	"amd64": {Name: "amd64", Audit: unix.AUDIT_ARCH_X86_64, X32Bit: 0x40000000, Syscalls: syscallsAmd64, Compat: []Arch{i386}},
	"arm64": {Name: "arm64", Audit: unix.AUDIT_ARCH_AARCH64, Syscalls: syscallsArm64, Compat: []Arch{arm32}},
}

// Offsets in struct seccomp_data; both architectures are little-endian,
// so an argument's low word comes first.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// Classic BPF opcodes (linux/filter.h).
const (
	ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jgt   = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	and   = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	ret   = unix.BPF_RET | unix.BPF_K
	ja    = unix.BPF_JMP | unix.BPF_JA
)

// maxInsns is BPF_MAXINSNS, the kernel's limit for one program.
const maxInsns = 4096

// label names a place in the program; 0 is the next instruction.
type label int

// insn is an instruction whose jumps may name labels.
type insn struct {
	code     uint16
	k        uint32
	jt, jf   label
	jaTo     label // for ja: the label k jumps to (32 bits: any distance)
	label    label // a mark: this label names the next instruction
	isTarget bool
}

type asm struct {
	code   []insn
	labels int
}

func (a *asm) emit(code uint16, k uint32, jt, jf label) {
	a.code = append(a.code, insn{code: code, k: k, jt: jt, jf: jf})
}

func (a *asm) newLabel() label {
	a.labels++
	return label(a.labels)
}

// mark puts label on the next instruction emitted.
func (a *asm) mark(l label) {
	a.code = append(a.code, insn{label: l, isTarget: true})
}

// assemble resolves labels: every jump is forward, and a classic BPF jump
// reaches at most 255 instructions, which the blocks here never exceed.
func (a *asm) assemble() (Program, error) {
	pos := make([]int, a.labels+1)
	out := make([]insn, 0, len(a.code))
	var pending []label
	for _, in := range a.code {
		if in.isTarget {
			pending = append(pending, in.label)
			continue
		}
		for _, l := range pending {
			pos[l] = len(out)
		}
		pending = pending[:0]
		out = append(out, in)
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("label %d at the end of the program", pending[0])
	}
	if len(out) > maxInsns {
		return nil, fmt.Errorf("the filter has %d instructions; the kernel takes at most %d", len(out), maxInsns)
	}
	prog := make(Program, len(out))
	for i, in := range out {
		off := func(l label) (uint8, error) {
			if l == 0 {
				return 0, nil
			}
			d := pos[l] - (i + 1)
			if d < 0 || d > 255 {
				return 0, fmt.Errorf("jump of %d instructions", d)
			}
			return uint8(d), nil
		}
		jt, err1 := off(in.jt)
		jf, err2 := off(in.jf)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("assemble: %v %v", err1, err2)
		}
		k := in.k
		if in.jaTo != 0 {
			k = uint32(pos[in.jaTo] - (i + 1))
		}
		prog[i] = unix.SockFilter{Code: in.code, Jt: jt, Jf: jf, K: k}
	}
	return prog, nil
}

// Compile builds p for arch. The program dispatches on the ABI of the
// call: the native one and each compat one get the rules with their own
// numbers; any other ABI (x32, or one burrow has no table for) kills the
// process, since its numbers would slip past rules written for others.
func Compile(p Profile, arch Arch) (Program, error) {
	a := &asm{}
	abis := append([]Arch{arch}, arch.Compat...)
	labels := make([]label, len(abis))
	a.emit(ldAbs, offArch, 0, 0)
	for i, abi := range abis {
		labels[i] = a.newLabel()
		next := a.newLabel()
		a.emit(jeq, abi.Audit, 0, next)
		a.code = append(a.code, insn{code: ja, jaTo: labels[i]})
		a.mark(next)
	}
	a.emit(ret, uint32(KillProcess), 0, 0)
	for i, abi := range abis {
		a.mark(labels[i])
		a.section(p, abi)
	}
	return a.assemble()
}

// section is the program for one ABI: its rules in order, then the
// default.
func (a *asm) section(p Profile, abi Arch) {
	a.emit(ldAbs, offNr, 0, 0)
	if abi.X32Bit != 0 {
		native := a.newLabel()
		a.emit(jge, abi.X32Bit, 0, native)
		a.emit(ret, uint32(KillProcess), 0, 0)
		a.mark(native)
	}
	for _, r := range p.Rules {
		if len(r.Arches) > 0 && !slices.Contains(r.Arches, abi.Name) || slices.Contains(r.NotArches, abi.Name) {
			continue
		}
		names := slices.Clone(r.Names)
		slices.Sort(names)
		for _, name := range slices.Compact(names) {
			nr, ok := abi.Syscalls[name]
			if !ok {
				continue // a call of another architecture
			}
			next := a.newLabel()
			a.emit(jeq, nr, 0, next)
			for _, arg := range r.Args {
				a.cond(arg, next)
			}
			a.emit(ret, uint32(r.Action), 0, 0)
			a.mark(next)
			if len(r.Args) > 0 {
				a.emit(ldAbs, offNr, 0, 0) // the conditions loaded args
			}
		}
	}
	a.emit(ret, uint32(p.Default), 0, 0)
}

// cond emits a test of one 64-bit argument, jumping to fail when it does
// not hold and falling through when it does.
func (a *asm) cond(arg Arg, fail label) {
	lo := uint32(offArgs + 8*arg.Index)
	hi := lo + 4
	vlo, vhi := uint32(arg.Value), uint32(arg.Value>>32)
	pass := a.newLabel()
	switch arg.Op {
	case EQ:
		a.emit(ldAbs, hi, 0, 0)
		a.emit(jeq, vhi, 0, fail)
		a.emit(ldAbs, lo, 0, 0)
		a.emit(jeq, vlo, 0, fail)
	case MaskedEQ:
		mlo, mhi := uint32(arg.ValueTwo), uint32(arg.ValueTwo>>32)
		a.emit(ldAbs, hi, 0, 0)
		a.emit(and, mhi, 0, 0)
		a.emit(jeq, vhi&mhi, 0, fail)
		a.emit(ldAbs, lo, 0, 0)
		a.emit(and, mlo, 0, 0)
		a.emit(jeq, vlo&mlo, 0, fail)
	case NE:
		a.emit(ldAbs, hi, 0, 0)
		a.emit(jeq, vhi, 0, pass)
		a.emit(ldAbs, lo, 0, 0)
		a.emit(jeq, vlo, fail, 0)
	case GT, GE:
		last := uint16(jgt)
		if arg.Op == GE {
			last = jge
		}
		a.emit(ldAbs, hi, 0, 0)
		a.emit(jgt, vhi, pass, 0)
		a.emit(jeq, vhi, 0, fail)
		a.emit(ldAbs, lo, 0, 0)
		a.emit(last, vlo, 0, fail)
	case LT, LE:
		// A < V is not A >= V; A <= V is not A > V.
		last := uint16(jge)
		if arg.Op == LE {
			last = jgt
		}
		a.emit(ldAbs, hi, 0, 0)
		a.emit(jgt, vhi, fail, 0)
		a.emit(jeq, vhi, 0, pass)
		a.emit(ldAbs, lo, 0, 0)
		a.emit(last, vlo, fail, 0)
	}
	a.mark(pass)
}

// MarshalJSON encodes the program as base64 of its kernel layout (8 bytes
// an instruction): a spec carries it to pid 1, and a list of objects
// took a tenth of a millisecond to encode and decode.
func (p Program) MarshalJSON() ([]byte, error) {
	b := make([]byte, 8*len(p))
	for i, in := range p {
		binary.LittleEndian.PutUint16(b[8*i:], in.Code)
		b[8*i+2], b[8*i+3] = in.Jt, in.Jf
		binary.LittleEndian.PutUint32(b[8*i+4:], in.K)
	}
	return json.Marshal(b)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (p *Program) UnmarshalJSON(data []byte) error {
	var b []byte
	if err := json.Unmarshal(data, &b); err != nil {
		return err
	}
	prog, err := decode(b)
	*p = prog
	return err
}

// decode reads instructions in the kernel's layout.
func decode(b []byte) (Program, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("seccomp program of %d bytes: not whole instructions", len(b))
	}
	prog := make(Program, len(b)/8)
	for i := range prog {
		prog[i] = unix.SockFilter{Code: binary.LittleEndian.Uint16(b[8*i:]), Jt: b[8*i+2], Jf: b[8*i+3], K: binary.LittleEndian.Uint32(b[8*i+4:])}
	}
	return prog, nil
}
