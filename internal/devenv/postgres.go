// Package devenv starts the throwaway services that the local stack and the
// tests run against when no real ones are configured: a Postgres cluster from
// the system's server binaries and an SQS-compatible server (moto).
package devenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a throwaway cluster owned by this process.
type Postgres struct {
	dir  string
	port int
	// asUser is the OS user that owns the cluster; postgres refuses to run as root.
	asUser string
	cmd    *exec.Cmd
	done   chan struct{}
	// durable keeps production's write settings (see PostgresOptions).
	durable bool
}

// PostgresOptions shape a cluster.
type PostgresOptions struct {
	// Durable keeps fsync, synchronous_commit and full_page_writes on, as in
	// production, so a crash (Restart) loses nothing committed. Off by
	// default: test clusters are disposable and faster without.
	Durable bool
}

// URL is the connection string for database name db.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// StartPostgres creates a cluster in a new temporary directory and starts it on
// a free loopback port. Stop it with Stop.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	return StartPostgresWith(ctx, PostgresOptions{})
}

// StartPostgresWith is StartPostgres with options.
func StartPostgresWith(ctx context.Context, o PostgresOptions) (*Postgres, error) {
	initdb, err := findPGBinary("initdb")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sluice-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir, durable: o.Durable}
	if os.Geteuid() == 0 {
		p.asUser = "postgres"
		if err := chownTo(dir, p.asUser); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := p.run(ctx, initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb in %s: %w\n%s", data, err, out)
	}
	port, err := FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.port = port
	if err := p.start(ctx, data); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

// start runs the postmaster as our child rather than through pg_ctl, which
// would detach it: in its own process group, and with Pdeathsig SIGQUIT (an
// immediate shutdown) so that the cluster goes down with this process even if
// it is killed outright.
func (p *Postgres) start(ctx context.Context, data string) error {
	bin, err := findPGBinary("postgres")
	if err != nil {
		return err
	}
	// fsync off (unless durable) and a socket in our own directory: the
	// cluster is disposable and /var/run/postgresql may not exist or be writable.
	writes := "off"
	if p.durable {
		writes = "on"
	}
	cmd := exec.Command(bin, "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-k", p.dir,
		"-c", "fsync="+writes, "-c", "synchronous_commit="+writes, "-c", "full_page_writes="+writes, "-c", "max_connections=300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if p.asUser != "" {
		u, err := user.Lookup(p.asUser)
		if err != nil {
			return err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	logFile, err := os.Create(filepath.Join(p.dir, "log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	if p.asUser != "" {
		chownTo(logFile.Name(), p.asUser)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(p.done) }()
	if err := p.waitReady(ctx); err != nil {
		p.Stop()
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		return fmt.Errorf("postgres on port %d: %w\n%s", p.port, err, log)
	}
	return nil
}

// waitReady waits until the server accepts a session (not just a TCP
// connection: during recovery it refuses sessions).
func (p *Postgres) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, p.URL("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-p.done:
			return fmt.Errorf("postgres exited: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is the postmaster's process id.
func (p *Postgres) PID() int { return p.cmd.Process.Pid }

// Restart stops the cluster at once, as a crash would (immediate mode: no
// checkpoint, clients cut off, recovery from the WAL at start), keeps it down
// for down, and starts it again on the same port.
func (p *Postgres) Restart(ctx context.Context, down time.Duration) error {
	p.kill()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	return p.start(ctx, filepath.Join(p.dir, "data"))
}

// kill stops the postmaster in immediate mode and waits for it to exit.
func (p *Postgres) kill() {
	// SIGQUIT is pg_ctl's "immediate" mode.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Stop shuts the cluster down at once (it is disposable) and removes its files.
func (p *Postgres) Stop() error {
	p.kill()
	return os.RemoveAll(p.dir)
}

func (p *Postgres) run(ctx context.Context, bin string, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	if p.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.asUser, "--", bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	// pg_ctl start leaves the server running with our stdout unless it is redirected;
	// CombinedOutput would then wait for the server to exit.
	cmd.Stdin = nil
	f, err := os.CreateTemp("", "sluice-pgcmd-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return out, err
}

func findPGBinary(name string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/lib/postgresql/*/bin: install the PostgreSQL server or set DATABASE_URL", name)
}

func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("running as root, so the cluster must belong to user %q: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

// FreePort asks the kernel for an unused loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitTCP waits until something accepts connections on addr.
func WaitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nothing listening on %s: %w", addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
