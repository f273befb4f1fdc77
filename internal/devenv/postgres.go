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
	"time"
)

// Postgres is a throwaway cluster owned by this process.
type Postgres struct {
	dir  string
	port int
	// asUser is the OS user that owns the cluster; postgres refuses to run as root.
	asUser string
	opts   string // postgres options, kept for Restart
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
	pgctl, err := findPGBinary("pg_ctl")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sluice-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir}
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
	// fsync off and a socket in our own directory: the cluster is disposable and
	// /var/run/postgresql may not exist or be writable.
	p.opts = fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c max_connections=300", port, dir)
	if o.Durable {
		p.opts += " -c fsync=on -c synchronous_commit=on -c full_page_writes=on"
	} else {
		p.opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	if out, err := p.start(ctx, pgctl); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start on port %d: %w\n%s\n%s", port, err, out, log)
	}
	return p, nil
}

func (p *Postgres) start(ctx context.Context, pgctl string) ([]byte, error) {
	return p.run(ctx, pgctl, "-D", filepath.Join(p.dir, "data"), "-o", p.opts, "-l", filepath.Join(p.dir, "log"), "-w", "-t", "30", "start")
}

// Restart stops the cluster at once, as a crash would (immediate mode: no
// checkpoint, clients cut off, recovery from the WAL at start), keeps it down
// for down, and starts it again on the same port.
func (p *Postgres) Restart(ctx context.Context, down time.Duration) error {
	pgctl, err := findPGBinary("pg_ctl")
	if err != nil {
		return err
	}
	if out, err := p.run(ctx, pgctl, "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop -m immediate: %w\n%s", err, out)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	if out, err := p.start(ctx, pgctl); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		return fmt.Errorf("pg_ctl start after an immediate stop: %w\n%s\n%s", err, out, log)
	}
	return nil
}

// Stop shuts the cluster down and removes its files.
func (p *Postgres) Stop() error {
	pgctl, err := findPGBinary("pg_ctl")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := p.run(ctx, pgctl, "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(p.dir)
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
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
