/*
 * ppdump_render - the JSON rendering of a pp_parse result, shared by the
 * ppdump example and the fuzz targets.
 *
 * A pure function: no globals, no allocation, no I/O. It reads only the
 * parse result (hdr and the views into the parsed buffer that hdr holds)
 * and writes into the caller's buffer, never past cap.
 */
#ifndef PPDUMP_RENDER_H
#define PPDUMP_RENDER_H

#include <stddef.h>

#include "pphdr.h"

/* Render the outcome of `result = pp_parse(hdr, buf, len)` as one JSON
 * object on one line (no trailing newline):
 *
 *   result > 0            {"result":"ok","consumed":result,...}
 *   result == PP_INCOMPLETE
 *                         {"result":"incomplete"} plus "need":N (N =
 *                         pp_expected_len(hdr) - len) when the length is
 *                         known
 *   any other result      {"result":"error","error":pp_status_name(result),
 *                          "message":pp_strerror(result)}
 *
 * hdr must be the header of that pp_parse call (not NULL) and buf/len its
 * input; buf is not read (the views in hdr already point into it; the
 * parameter keeps the call shape of pp_parse and may be NULL). The output
 * is printable ASCII only: every byte outside 0x20..0x7e, '"' and '\\' in a
 * string is escaped (\u00XX with lowercase hex, one escape per byte for
 * bytes >= 0x80, since the wire carries bytes, not characters).
 *
 * Truncation works like snprintf: returns the length of the whole JSON
 * text (without the terminating NUL) whatever cap is. When cap > 0, the
 * first min(returned, cap - 1) bytes are written followed by a NUL; when
 * cap == 0 nothing is written and out may be NULL. So the output is
 * complete if and only if the returned value is < cap; a truncated output
 * is cut at an arbitrary byte and is not valid JSON. Call with cap 0 first
 * to learn the size needed. */
size_t ppdump_render_json(char *out, size_t cap, int result,
                          const pp_header *hdr, const void *buf, size_t len);

#endif
