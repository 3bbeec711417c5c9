//go:build unix

package tiertest

import "syscall"

// Freeze stops the server process (SIGSTOP) without closing its sockets:
// connections are accepted by the kernel but nothing answers, as with a
// hung store. Thaw resumes it.
func (s *Server) Freeze() error { return s.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (s *Server) Thaw() error { return s.cmd.Process.Signal(syscall.SIGCONT) }
