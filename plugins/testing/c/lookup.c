/* A test plugin written in C against core/plugin-abi/include/waihu_plugin.h:
 * the switch's tests build it with the system C compiler and load it, so
 * the header and the Rust ABI are checked against each other.
 *
 * Capabilities: lookup (contact id "42" is a customer, anything else is
 * nobody), lua (echo(...) answers its arguments; events() answers how many
 * events arrived), events (counted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "waihu_plugin.h"

typedef struct {
  const WaihuHost *host;
  unsigned long events; /* written by the event thread, read by the worker */
} Instance;

static WaihuBuf copy(const uint8_t *bytes, size_t len) {
  WaihuBuf b = {NULL, 0};
  if (len == 0) return b;
  b.ptr = malloc(len);
  if (b.ptr) {
    memcpy(b.ptr, bytes, len);
    b.len = len;
  }
  return b;
}

static WaihuBuf text(const char *s) { return copy((const uint8_t *)s, strlen(s)); }

static int is(WaihuSlice s, const char *want) {
  return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static WaihuStatus p_new(const WaihuHost *host, WaihuSlice config, WaihuInstance **out,
                         WaihuBuf *err) {
  (void)config;
  Instance *self = calloc(1, sizeof *self);
  if (!self) {
    *err = text("out of memory");
    return WAIHU_ERROR;
  }
  self->host = host;
  const char *hello = "c plugin ready";
  WaihuSlice msg = {(const uint8_t *)hello, strlen(hello)};
  host->log(host->ctx, WAIHU_LOG_INFO, msg);
  *out = (WaihuInstance *)self;
  return WAIHU_OK;
}

static void p_free(WaihuInstance *self) { free(self); }

static void p_buf_free(WaihuBuf buf) { free(buf.ptr); }

static WaihuStatus p_describe(const WaihuInstance *self, WaihuBuf *out) {
  (void)self;
  *out = text("{\"lua_functions\":[\"echo\",\"events\"]}");
  return WAIHU_OK;
}

static WaihuStatus p_event(const WaihuInstance *self, WaihuSlice json, WaihuBuf *err) {
  (void)json;
  (void)err;
  __atomic_fetch_add(&((Instance *)self)->events, 1, __ATOMIC_RELAXED);
  return WAIHU_OK;
}

static WaihuStatus p_lookup(const WaihuInstance *self, WaihuSlice key, WaihuBuf *out) {
  (void)self;
  *out = is(key, "42") ? text("{\"name\":\"Zhang Wei\",\"plan\":\"silver\",\"tenure_months\":7}")
                       : text("null");
  return WAIHU_OK;
}

static WaihuStatus p_lua_call(const WaihuInstance *self, WaihuSlice function, WaihuSlice args,
                              WaihuBuf *out) {
  if (is(function, "echo")) {
    *out = copy(args.ptr, args.len);
    return WAIHU_OK;
  }
  if (is(function, "events")) {
    char n[32];
    snprintf(n, sizeof n, "%lu",
             __atomic_load_n(&((const Instance *)self)->events, __ATOMIC_RELAXED));
    *out = text(n);
    return WAIHU_OK;
  }
  *out = text("no such function");
  return WAIHU_UNSUPPORTED;
}

static const WaihuPluginTable TABLE = {
    .abi_version = WAIHU_ABI_VERSION,
    .capabilities = WAIHU_CAP_EVENTS | WAIHU_CAP_LOOKUP | WAIHU_CAP_LUA,
    .name = "c-lookup",
    .version = "0.0.1",
    .new_ = p_new,
    .free = p_free,
    .buf_free = p_buf_free,
    .describe = p_describe,
    .event = p_event,
    .lookup = p_lookup,
    .lua_call = p_lua_call,
};

uint32_t waihu_plugin_entry(const WaihuPluginTable **table) {
  *table = &TABLE;
  return WAIHU_ABI_VERSION;
}
