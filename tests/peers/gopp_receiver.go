// gopp_receiver - a PROXY protocol receiver built on go-proxyproto (Debian's
// golang-github-pires-go-proxyproto-dev), for tests/peers/receivers.sh.
//
//	gopp_receiver ADDR:PORT
//
// Accepts connections through proxyproto.Listener with the REQUIRE policy,
// reads one HTTP request after the header and answers 200 with what the
// library understood:
//
//	cmd=PROXY|LOCAL src= sport= dst= dport= authority= uid= real= rport= req=
//
// src/dst are Conn.RemoteAddr()/LocalAddr(): the header's addresses, or the
// connection's own for LOCAL (the library's rule). Addresses of a TCP6
// header are printed in their 16-byte form (::ffff:a.b.c.d stays so).
// authority and uid are the AUTHORITY and UNIQUE_ID TLVs. A header the
// library refuses gets "HTTP/1.1 400" with "error=MESSAGE".
// Prints "listening ADDR" once ready.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

func require(net.Addr) (proxyproto.Policy, error) { return proxyproto.REQUIRE, nil }

// hostPort prints a TCP address; v6 keeps an IPv4-mapped address mapped.
func hostPort(a net.Addr, v6 bool) (string, string) {
	t, ok := a.(*net.TCPAddr)
	if !ok || t == nil {
		return "", ""
	}
	ip, ok := netip.AddrFromSlice(t.IP)
	if !ok {
		return "", ""
	}
	if v6 {
		ip = netip.AddrFrom16(ip.As16())
	} else {
		ip = ip.Unmap()
	}
	return ip.String(), fmt.Sprint(t.Port)
}

func answer(c net.Conn, status, body string) {
	fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Type: text/plain\r\n"+
		"Content-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, len(body), body)
}

func serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	reqLine, err := r.ReadString('\n')
	if err != nil {
		answer(c, "400 Bad Request", fmt.Sprintf("error=%q\n", err.Error()))
		return
	}
	for {
		l, err := r.ReadString('\n')
		if err != nil || l == "\r\n" {
			break
		}
	}
	pc := c.(*proxyproto.Conn)
	h := pc.ProxyHeader()
	cmd, v6 := "none", false
	authority, uid := "", ""
	if h != nil {
		cmd = "PROXY"
		if h.Command.IsLocal() {
			cmd = "LOCAL"
		}
		v6 = h.TransportProtocol.IsIPv6()
		tlvs, err := h.TLVs()
		if err != nil {
			answer(c, "400 Bad Request", fmt.Sprintf("error=%q\n", err.Error()))
			return
		}
		for _, t := range tlvs {
			switch t.Type {
			case proxyproto.PP2_TYPE_AUTHORITY:
				authority = string(t.Value)
			case 0x05: // UNIQUE_ID, not named in go-proxyproto 0.4.2
				uid = string(t.Value)
			}
		}
	}
	src, sport := hostPort(pc.RemoteAddr(), v6 && cmd == "PROXY")
	dst, dport := hostPort(pc.LocalAddr(), v6 && cmd == "PROXY")
	real, rport := hostPort(pc.Raw().RemoteAddr(), false)
	fields := strings.Fields(reqLine)
	path := ""
	if len(fields) > 1 {
		path = fields[1]
	}
	answer(c, "200 OK", fmt.Sprintf("cmd=%s src=%s sport=%s dst=%s dport=%s "+
		"authority=%s uid=%s real=%s rport=%s req=%s\n", cmd, src, sport,
		dst, dport, authority, uid, real, rport, path))
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gopp_receiver ADDR:PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pl := &proxyproto.Listener{Listener: ln, Policy: require,
		ReadHeaderTimeout: 5 * time.Second}
	fmt.Println("listening", ln.Addr())
	for {
		c, err := pl.Accept()
		if err != nil {
			return
		}
		go serve(c)
	}
}
