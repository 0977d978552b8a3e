/*
 * cfglog.h - cfg_load() with its log captured (tests/unit/cfglog.c).
 */
#ifndef CMPCA_CFGLOG_H
#define CMPCA_CFGLOG_H

#include <stddef.h>

#include "ca/ca.h"

/* cfg_load(path) with what it logs to stderr captured into err (errlen
 * bytes, NUL-terminated). */
struct cfg *cfg_load_logged(const char *path, char *err, size_t errlen);

#endif
