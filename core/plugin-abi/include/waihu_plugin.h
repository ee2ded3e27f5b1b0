/* waihu native plugin ABI, version 1: the C view of
 * core/plugin-abi/src/abi.rs. docs/plugins.md explains each part; the
 * test plugins/testing/c/lookup.c is built against this header and
 * loaded by the switch's tests, so the two cannot drift apart. */
#ifndef WAIHU_PLUGIN_H
#define WAIHU_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WAIHU_ABI_VERSION 1

/* Status codes: an int32_t, so any value a plugin returns is defined;
   unknown values count as errors. */
typedef int32_t WaihuStatus;
#define WAIHU_OK          0
#define WAIHU_ERROR       1  /* the error/out buffer says why */
#define WAIHU_BAD_INPUT   2  /* input not accepted (bad JSON, bad UTF-8) */
#define WAIHU_UNSUPPORTED 3  /* not offered (unknown Lua function) */
#define WAIHU_PANIC       4  /* the plugin caught a panic/exception */

typedef struct { const uint8_t *ptr; size_t len; } WaihuSlice; /* lent for one call */
typedef struct { uint8_t *ptr; size_t len; } WaihuBuf;         /* plugin-owned, see buf_free */

typedef struct WaihuInstance WaihuInstance; /* opaque */
typedef struct WaihuDetector WaihuDetector; /* opaque */

#define WAIHU_LOG_ERROR 1
#define WAIHU_LOG_WARN  2
#define WAIHU_LOG_INFO  3
#define WAIHU_LOG_DEBUG 4

typedef struct {
  uint32_t abi_version;
  const void *ctx;
  void (*log)(const void *ctx, uint32_t level, WaihuSlice msg); /* any thread */
} WaihuHost;

#define WAIHU_CAP_EVENTS (1u << 0)
#define WAIHU_CAP_LOOKUP (1u << 1)
#define WAIHU_CAP_LUA    (1u << 2)
#define WAIHU_CAP_AMD    (1u << 3)

#define WAIHU_HUMAN   0
#define WAIHU_MACHINE 1
#define WAIHU_UNSURE  2
#define WAIHU_BEEP_NOT_ENDED UINT32_MAX

typedef struct {
  uint8_t decided;        /* 1: verdict and at_ms are the decision */
  uint8_t verdict;        /* WAIHU_HUMAN, WAIHU_MACHINE, WAIHU_UNSURE */
  uint8_t beep;           /* 1: beep_* are set */
  uint8_t _pad;
  uint32_t at_ms;         /* when decided, ms since answer */
  uint32_t beep_start_ms;
  uint32_t beep_end_ms;   /* or WAIHU_BEEP_NOT_ENDED */
  uint32_t beep_hz;
} WaihuAmdReport;

typedef struct {
  uint32_t abi_version;   /* == WAIHU_ABI_VERSION */
  uint32_t capabilities;  /* WAIHU_CAP_* bits */
  const char *name;       /* static, NUL-terminated */
  const char *version;
  WaihuStatus (*new_)(const WaihuHost *host, WaihuSlice config_json,
                      WaihuInstance **instance, WaihuBuf *err);
  void (*free)(WaihuInstance *instance);
  void (*buf_free)(WaihuBuf buf);
  /* NULL unless the capability is declared: */
  WaihuStatus (*describe)(const WaihuInstance *, WaihuBuf *out);             /* LUA */
  WaihuStatus (*event)(const WaihuInstance *, WaihuSlice json, WaihuBuf *err); /* EVENTS */
  WaihuStatus (*lookup)(const WaihuInstance *, WaihuSlice key, WaihuBuf *out); /* LOOKUP */
  WaihuStatus (*lua_call)(const WaihuInstance *, WaihuSlice function,
                          WaihuSlice args_json, WaihuBuf *out);             /* LUA */
  WaihuStatus (*amd_new)(const WaihuInstance *, WaihuSlice config_json,
                         WaihuDetector **detector, WaihuBuf *err);          /* AMD */
  WaihuStatus (*amd_push)(WaihuDetector *, const int16_t *samples, size_t count,
                          uint32_t at_ms, WaihuAmdReport *report);
  WaihuStatus (*amd_finish)(WaihuDetector *, uint32_t at_ms, WaihuAmdReport *report);
  void (*amd_free)(WaihuDetector *);
} WaihuPluginTable;

uint32_t waihu_plugin_entry(const WaihuPluginTable **table);

#ifdef __cplusplus
}
#endif

#endif /* WAIHU_PLUGIN_H */
