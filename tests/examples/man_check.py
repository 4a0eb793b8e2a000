#!/usr/bin/env python3
"""Checks of the man pages in man/.

    man_check.py BUILD_DIR

1. Each page renders without a warning: `groff -man -ww -z` and
   `man --warnings -l` both exit 0 with nothing on standard error. (A page
   with a deliberate mistake is run through the same check first, so the
   check is known to see warnings.)
2. The options a program's --help lists (short and long) are exactly the
   options its page documents in OPTIONS (.TP tags), both ways, so neither
   can drift: ppproxy.1 against ppproxy --help, ppdump.1 against ppdump --help.
3. `meson install --destdir` puts the pages under share/man/man1 and man3
   and ppproxy.service under share/doc/pphdr.
Ends with "man: N passed, M failed".
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.abspath(sys.argv[1])
PASSED = FAILED = 0


def check(name, ok, detail=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print("ok   " + name)
    else:
        FAILED += 1
        print("FAIL " + name + (": " + detail if detail else ""))


def render_warnings(path):
    """Warnings of both renderers (empty when clean)."""
    out = []
    r = subprocess.run(["groff", "-man", "-ww", "-z", path],
                       capture_output=True, text=True)
    if r.returncode != 0 or r.stderr:
        out.append("groff (%d): %s" % (r.returncode, r.stderr.strip()))
    env = dict(os.environ, MANWIDTH="80", MAN_DISABLE_SECCOMP="1")
    r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True,
                       text=True, env=env)
    if r.returncode != 0 or r.stderr or not r.stdout:
        out.append("man (%d): %s" % (r.returncode, r.stderr.strip()))
    return "\n".join(out)


OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][a-zA-Z0-9-]*)")


def page_options(path):
    """Options tagged in the OPTIONS section: every -x or --name on the
    tag line after each .TP (or .TQ), such as ".BR \\-h \", \" \\-\\-help"."""
    lines = open(path).read().splitlines()
    opts, in_options = set(), False
    for i, line in enumerate(lines):
        if line.startswith(".SH"):
            in_options = line.split(None, 1)[1].strip('"') == "OPTIONS"
        elif in_options and line in (".TP", ".TQ") and i + 1 < len(lines):
            tag = lines[i + 1].replace("\\-", "-")
            if re.match(r"^\.(?:B|BI|BR)\s+-", tag):
                opts.update(OPTION.findall(tag.split(None, 1)[1]))
    return opts


def help_options(prog):
    """Options --help lists: every -x or --name in the first column of an
    indented line that starts with '-' (up to the two spaces before the
    description), such as "  -h, --help  print this help"."""
    r = subprocess.run([prog, "--help"], capture_output=True, text=True,
                       timeout=10)
    opts = set()
    for line in r.stdout.splitlines():
        if re.match(r"^\s+-", line):
            opts.update(OPTION.findall(re.split(r"\s{2,}", line.strip())[0]))
    return r.returncode, opts


def main():
    tmp = tempfile.mkdtemp(prefix="pphdr-man.")
    try:
        bad = os.path.join(tmp, "bad.1")
        with open(bad, "w") as f:
            f.write('.TH BAD 1\n.SH NAME\nbad \\- x\n.SH OPTIONS\n.TP\n'
                    '.B \\-\\-x\n\\fBbold never closed\n.ZZ unknown\n')
        check("a page with mistakes is reported", render_warnings(bad) != "")
        pages = sorted(os.listdir(os.path.join(TOP, "man")))
        for page in ("ppproxy.1", "ppdump.1", "pphdr.3"):
            path = os.path.join(TOP, "man", page)
            check("%s exists" % page, page in pages)
            if os.path.exists(path):
                w = render_warnings(path)
                check("%s renders without warnings" % page, w == "", w)
        for prog, page in (("ppproxy/ppproxy", "ppproxy.1"),
                           ("ppdump", "ppdump.1")):
            rc, hopts = help_options(os.path.join(BUILD, "examples", prog))
            popts = page_options(os.path.join(TOP, "man", page))
            name = os.path.basename(prog)
            check("%s --help exits 0 and lists options" % name,
                  rc == 0 and len(hopts) > 1, "%d %r" % (rc, hopts))
            check("%s: every --help option is in %s" % (name, page),
                  hopts <= popts, "missing from the page: %s" %
                  " ".join(sorted(hopts - popts)))
            check("%s: every option in %s is in --help" % (name, page),
                  popts <= hopts, "missing from --help: %s" %
                  " ".join(sorted(popts - hopts)))
        dest = os.path.join(tmp, "dest")
        r = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild",
                            "--destdir", dest], capture_output=True,
                           text=True)
        found = set()
        for root, _, files in os.walk(dest):
            for f in files:
                rel = os.path.relpath(os.path.join(root, f), dest)
                found.add(re.sub(r"^.*?/share/", "share/", rel))
        for want in ("share/man/man1/ppproxy.1", "share/man/man1/ppdump.1",
                     "share/man/man3/pphdr.3",
                     "share/doc/pphdr/ppproxy.service"):
            check("meson install puts %s" % want,
                  r.returncode == 0 and want in found,
                  r.stderr[-500:] if r.returncode else "")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("man: %d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
