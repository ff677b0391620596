package target

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// opensshVersion is an OpenSSH release, such as 9.2.
type opensshVersion struct{ major, minor int }

// newestOpenSSH stands for a release newer than any fleet knows of: what
// fleet behaves as when no OpenSSH client is installed.
var newestOpenSSH = opensshVersion{math.MaxInt, 0}

func (v opensshVersion) atLeast(major, minor int) bool {
	return v.major > major || v.major == major && v.minor >= minor
}

func (v opensshVersion) String() string {
	if v == newestOpenSSH {
		return "newest"
	}
	return fmt.Sprintf("%d.%d", v.major, v.minor)
}

// opensshVersionRE finds the release in `ssh -V` output, e.g.
// "OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024" or
// "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2".
var opensshVersionRE = regexp.MustCompile(`\bOpenSSH_(?:for_Windows_)?(\d+)\.(\d+)`)

// parseOpenSSHVersion reads the release from `ssh -V` output.
func parseOpenSSHVersion(out string) (opensshVersion, bool) {
	m := opensshVersionRE.FindStringSubmatch(out)
	if m == nil {
		return opensshVersion{}, false
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil {
		return opensshVersion{}, false
	}
	return opensshVersion{major, minor}, true
}

// installedOpenSSH returns the release of the ssh on PATH, asking `ssh -V`
// once per process, the first time it is needed. No ssh, or one that is
// not OpenSSH, counts as the newest release.
var installedOpenSSH = sync.OnceValue(func() opensshVersion {
	path, err := exec.LookPath("ssh")
	if err != nil {
		return newestOpenSSH
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, "-V").CombinedOutput()
	if v, ok := parseOpenSSHVersion(string(out)); ok {
		return v
	}
	return newestOpenSSH
})
