/*
 * The compiled fast path of the arbiter: a read's leading HGET and HSET requests,
 * parsed and run in C.
 *
 * Python does a command in hundreds of interpreter steps; Redis does a whole HSET in
 * about 5,000 machine instructions. This module takes the requests most of a stash's
 * traffic is made of, in the states most of its time is spent in, and does exactly what
 * the Python path (`Server.call`, `Keyspace.get_hash`/`set_fields`, `Packed`, `Table`)
 * does for them: the same keyspace objects, counters, statistics and reply bytes.
 * Anything else stops it before any effect, and the Python path goes on from that
 * request: other commands, a framing that is not the canonical one, an incomplete
 * request, a key with a deadline, a WATCHed key, a field TTL, a new key, a hash that
 * would change its encoding, and every server state that adds checks (see
 * `serve_allowed`). The pure-Python path stays complete on its own: without this module
 * (no compiler at install, or RESP_ARBITER_PURE_PYTHON set) every request takes it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <time.h>

/* Set once by configure(): the value classes and the command declarations. */
static PyTypeObject *packed_type;
static PyTypeObject *table_type;
static PyObject *hget_spec, *hset_spec;
static PyObject *hget_name, *hset_name;
static Py_ssize_t field_overhead, listpack_max_value, listpack_max_entries,
    packed_max_fields;

/* Interned attribute names. */
static PyObject *s_out, *s_flush_at, *s_resp, *s_multi, *s_tracking, *s_authenticated,
    *s_gated, *s_maxmemory, *s_deny_writes, *s_aof, *s_state, *s_write_hooks,
    *s_on_change, *s_lfu, *s_frozen, *s_tables, *s_deadlines, *s_accessed, *s_watchers,
    *s_subexpiry, *s_lookups, *s_command_stats, *s_observe_us, *s_histogram,
    *s_record_long, *s_observe, *s_dirty, *s_data_bytes, *s_snapshot, *s_last_command,
    *s_error_stats, *s_current, *s_fields, *s_index, *s_listpack, *s_field_ttl, *s_size,
    *s_add, *s_zero, *s_one, *s_close_after_reply;

#define FALLBACK 1 /* the request goes to the Python path; nothing was changed */

/* ---- reading the canonical request framing ------------------------------------------ */

typedef struct {
    const char *at;
    Py_ssize_t len;
} Arg;

/* A decimal count or length, canonical (no sign, no leading zero), ending in CRLF.
 * Returns the position after the CRLF, or NULL (incomplete or not canonical). */
static const char *
read_number(const char *p, const char *end, Py_ssize_t *value)
{
    Py_ssize_t n = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9') {
        if (p - start >= 10)
            return NULL;
        n = n * 10 + (*p - '0');
        p++;
    }
    if (p == start || (*start == '0' && p - start > 1))
        return NULL;
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
        return NULL;
    *value = n;
    return p + 2;
}

/* Reads one request of 3 or 4 bulk arguments at `p`; returns its end, or NULL. */
static const char *
read_request(const char *p, const char *end, Arg *args, int *argc)
{
    Py_ssize_t count, len;
    if (p >= end || *p != '*')
        return NULL;
    p = read_number(p + 1, end, &count);
    if (p == NULL || count < 3 || count > 4)
        return NULL;
    for (int i = 0; i < count; i++) {
        if (p >= end || *p != '$')
            return NULL;
        p = read_number(p + 1, end, &len);
        if (p == NULL || end - p < len + 2 || p[len] != '\r' || p[len + 1] != '\n')
            return NULL;
        args[i].at = p;
        args[i].len = len;
        p += len + 2;
    }
    *argc = (int)count;
    return p;
}

static int
is_name(const Arg *arg, const char *lower)
{
    if (arg->len != 4)
        return 0;
    for (int i = 0; i < 4; i++)
        if ((arg->at[i] | 0x20) != lower[i])
            return 0;
    return 1;
}

/* ---- the state a batch runs in ------------------------------------------------------ */

typedef struct {
    PyObject *server, *client, *keyspace;
    PyObject *out; /* the client's bytearray */
    Py_ssize_t flush_at;
    int resp3;
    PyObject *tables, *deadlines, *accessed, *watchers, *lookups, *command_stats;
    PyObject *write_hooks; /* NULL when the only hook, the append-only file's, is off */
    int subexpiry;
    long long observe_us; /* LLONG_MAX: never */
    Py_ssize_t dirty, data_bytes; /* added by this batch, written back at its end */
    PyObject *last_spec;          /* borrowed: the last command run */
} Batch;

static int
attr_true(PyObject *obj, PyObject *name)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL)
        return -1;
    int truth = PyObject_IsTrue(value);
    Py_DECREF(value);
    return truth;
}

static int
attr_is_none(PyObject *obj, PyObject *name)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL)
        return -1;
    int none = value == Py_None;
    Py_DECREF(value);
    return none;
}

/* 1 when the batch may run: what `Server.call` checks before its inline path, and what
 * makes `Keyspace.touch` do nothing beyond the dirty counter. */
static int
serve_allowed(Batch *b)
{
    PyObject *server = b->server, *client = b->client, *ks = b->keyspace;
    int r;
#define REQUIRE(expr)       \
    do {                    \
        r = (expr);         \
        if (r <= 0)         \
            return r;       \
    } while (0)
    REQUIRE(attr_true(client, s_authenticated));
    REQUIRE(!attr_true(client, s_close_after_reply));
    REQUIRE(attr_is_none(client, s_multi));
    REQUIRE(attr_is_none(client, s_tracking));
    REQUIRE(!attr_true(server, s_gated));
    REQUIRE(!attr_true(server, s_maxmemory));
    REQUIRE(attr_is_none(server, s_deny_writes));
    REQUIRE(attr_is_none(ks, s_on_change));
    REQUIRE(!attr_true(ks, s_lfu));
    REQUIRE(!attr_true(ks, s_frozen));
    return 1;
#undef REQUIRE
}

static PyObject *
get_attr_of(PyObject *obj, PyObject *name, int (*check)(PyObject *))
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value != NULL && check != NULL && !check(value)) {
        Py_DECREF(value);
        return Py_None; /* borrowed sentinel: the batch does not run */
    }
    return value;
}

static int
is_dict(PyObject *o) { return PyDict_CheckExact(o); }
static int
is_set(PyObject *o) { return PySet_CheckExact(o); }
static int
is_list(PyObject *o) { return PyList_CheckExact(o); }
static int
is_bytearray(PyObject *o) { return PyByteArray_CheckExact(o); }

/* Sets `b->write_hooks` to the server's write hooks, or NULL when there is only the
 * append-only file's and the file is off (its hook would return at once). */
static int
hooks_wanted(Batch *b)
{
    PyObject *hooks = PyObject_GetAttr(b->server, s_write_hooks);
    if (hooks == NULL)
        return -1;
    if (!PyList_CheckExact(hooks)) {
        Py_DECREF(hooks);
        return 0;
    }
    if (PyList_GET_SIZE(hooks) == 1) {
        PyObject *aof = PyObject_GetAttr(b->server, s_aof);
        PyObject *state = aof == NULL ? NULL : PyObject_GetAttr(aof, s_state);
        Py_XDECREF(aof);
        if (state == NULL) {
            Py_DECREF(hooks);
            return -1;
        }
        int off = PyUnicode_Check(state) &&
                  PyUnicode_CompareWithASCIIString(state, "off") == 0;
        Py_DECREF(state);
        if (off)
            Py_CLEAR(hooks);
    }
    b->write_hooks = hooks;
    return 1;
}

/* Fills `b`; 1 ready, 0 the batch does not run, -1 error. */
static int
batch_open(Batch *b)
{
    struct {
        PyObject **slot;
        PyObject *owner;
        PyObject *name;
        int (*check)(PyObject *);
    } wanted[] = {
        {&b->out, b->client, s_out, is_bytearray},
        {&b->tables, b->keyspace, s_tables, is_dict},
        {&b->deadlines, b->keyspace, s_deadlines, is_dict},
        {&b->accessed, b->keyspace, s_accessed, is_set},
        {&b->watchers, b->keyspace, s_watchers, is_dict},
        {&b->lookups, b->server, s_lookups, is_list},
        {&b->command_stats, b->server, s_command_stats, NULL},
    };
    size_t n = sizeof(wanted) / sizeof(wanted[0]);
    for (size_t i = 0; i < n; i++)
        *wanted[i].slot = NULL;
    b->write_hooks = NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *value = get_attr_of(wanted[i].owner, wanted[i].name, wanted[i].check);
        if (value == NULL || value == Py_None)
            return value == NULL ? -1 : 0;
        *wanted[i].slot = value;
    }
    if (PyList_GET_SIZE(b->lookups) != 2 || !PyDict_Check(b->command_stats))
        return 0;
    int r = hooks_wanted(b);
    if (r <= 0)
        return r;
    PyObject *value = PyObject_GetAttr(b->client, s_flush_at);
    if (value == NULL)
        return -1;
    b->flush_at = PyLong_AsSsize_t(value);
    Py_DECREF(value);
    if (b->flush_at == -1 && PyErr_Occurred())
        return -1;
    value = PyObject_GetAttr(b->client, s_resp);
    if (value == NULL)
        return -1;
    b->resp3 = PyLong_AsLong(value) == 3;
    Py_DECREF(value);
    value = PyObject_GetAttr(b->keyspace, s_subexpiry);
    if (value == NULL)
        return -1;
    b->subexpiry = PyObject_IsTrue(value);
    Py_DECREF(value);
    value = PyObject_GetAttr(b->server, s_observe_us);
    if (value == NULL)
        return -1;
    int overflow = 0;
    b->observe_us = PyLong_AsLongLongAndOverflow(value, &overflow);
    Py_DECREF(value);
    if (overflow > 0)
        b->observe_us = LLONG_MAX;
    else if (overflow < 0)
        b->observe_us = LLONG_MIN;
    if (PyErr_Occurred())
        return -1;
    b->dirty = b->data_bytes = 0;
    b->last_spec = NULL;
    return 1;
}

static void
batch_release(Batch *b)
{
    Py_XDECREF(b->out);
    Py_XDECREF(b->tables);
    Py_XDECREF(b->deadlines);
    Py_XDECREF(b->accessed);
    Py_XDECREF(b->watchers);
    Py_XDECREF(b->lookups);
    Py_XDECREF(b->command_stats);
    Py_XDECREF(b->write_hooks);
}

static int
add_to_attr(PyObject *obj, PyObject *name, Py_ssize_t delta)
{
    if (delta == 0)
        return 0;
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL)
        return -1;
    PyObject *step = PyLong_FromSsize_t(delta);
    if (step == NULL) {
        Py_DECREF(value);
        return -1;
    }
    PyObject *sum = PyNumber_Add(value, step);
    Py_DECREF(value);
    Py_DECREF(step);
    if (sum == NULL)
        return -1;
    int r = PyObject_SetAttr(obj, name, sum);
    Py_DECREF(sum);
    return r;
}

/* The command's statistics row (new reference), made on first use as the defaultdict
 * `Server.command_stats` makes it. */
static PyObject *
stats_row(Batch *b, PyObject *spec)
{
    PyObject *stats = PyDict_GetItemWithError(b->command_stats, spec);
    if (stats != NULL) {
        Py_INCREF(stats);
        return stats;
    }
    return PyErr_Occurred() ? NULL : PyObject_GetItem(b->command_stats, spec);
}

/* What `Server.call` leaves behind after the last command of the batch. */
static int
batch_close(Batch *b)
{
    int r = 0;
    if (add_to_attr(b->keyspace, s_dirty, b->dirty) < 0 ||
        add_to_attr(b->keyspace, s_data_bytes, b->data_bytes) < 0)
        r = -1;
    if (r == 0 && b->last_spec != NULL) {
        int is_hget = b->last_spec == hget_spec;
        PyObject *stats = stats_row(b, b->last_spec);
        PyObject *error_stats = stats == NULL ? NULL : PyObject_GetAttr(b->server, s_error_stats);
        if (stats == NULL || error_stats == NULL ||
            PyObject_SetAttr(error_stats, s_current, stats) < 0 ||
            PyObject_SetAttr(b->client, s_last_command, is_hget ? hget_name : hset_name) < 0 ||
            PyObject_SetAttr(b->keyspace, s_snapshot, s_zero) < 0 ||
            PyObject_SetAttr(b->keyspace, s_lookups, is_hget ? b->lookups : Py_None) < 0)
            r = -1;
        Py_XDECREF(error_stats);
        Py_XDECREF(stats);
    }
    batch_release(b);
    return r;
}

/* ---- replies ------------------------------------------------------------------------ */

static int
append(PyObject *out, const char *bytes, Py_ssize_t len)
{
    Py_ssize_t size = PyByteArray_GET_SIZE(out);
    if (PyByteArray_Resize(out, size + len) < 0)
        return -1;
    memcpy(PyByteArray_AS_STRING(out) + size, bytes, len);
    return 0;
}

static int
reply_integer(Batch *b, int value)
{
    return append(b->out, value ? ":1\r\n" : ":0\r\n", 4);
}

static int
reply_bulk(Batch *b, const char *value, Py_ssize_t len)
{
    char header[32];
    int n = snprintf(header, sizeof header, "$%zd\r\n", len);
    Py_ssize_t size = PyByteArray_GET_SIZE(b->out);
    if (PyByteArray_Resize(b->out, size + n + len + 2) < 0)
        return -1;
    char *at = PyByteArray_AS_STRING(b->out) + size;
    memcpy(at, header, n);
    memcpy(at + n, value, len);
    memcpy(at + n + len, "\r\n", 2);
    return 0;
}

static int
reply_null(Batch *b)
{
    return b->resp3 ? append(b->out, "_\r\n", 3) : append(b->out, "$-1\r\n", 5);
}

/* ---- counters ----------------------------------------------------------------------- */

static int
list_increment(PyObject *list, Py_ssize_t index)
{
    PyObject *old = PyList_GET_ITEM(list, index);
    PyObject *new = PyNumber_Add(old, s_one);
    if (new == NULL)
        return -1;
    return PyList_SetItem(list, index, new); /* steals `new`, releases `old` */
}

/* ---- packed hashes (keyspace.Packed) ------------------------------------------------- */

/* Where the value length byte of `field` is in packed hash `p`, or -1. */
static Py_ssize_t
packed_find(const unsigned char *p, const Arg *field)
{
    Py_ssize_t at = 1;
    for (int i = 0; i < p[0]; i++) {
        Py_ssize_t width = p[at];
        if (width == field->len && memcmp(p + at + 1, field->at, width) == 0)
            return at + 1 + width;
        at += 1 + width;
        at += 1 + p[at];
    }
    return -1;
}

/* A new `Packed` of `size` bytes to fill, as bytes' own subclass constructor makes it. */
static PyObject *
packed_new(Py_ssize_t size)
{
    PyObject *o = packed_type->tp_alloc(packed_type, size);
    if (o == NULL)
        return NULL;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    ((PyBytesObject *)o)->ob_shash = -1;
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    return o;
}

/* ---- HGET --------------------------------------------------------------------------- */

/* 0 done, FALLBACK, -1 error. The key's value is looked up before anything changes. */
static int
run_hget(Batch *b, const Arg *args)
{
    PyObject *key = PyBytes_FromStringAndSize(args[1].at, args[1].len);
    if (key == NULL)
        return -1;
    PyObject *value = PyDict_GetItemWithError(b->tables, key);
    const char *found = NULL;
    Py_ssize_t found_len = 0;
    int r = -1;
    if (value == NULL) {
        if (PyErr_Occurred())
            goto done;
        if (list_increment(b->lookups, 1) < 0 || reply_null(b) < 0)
            goto done;
        r = 0;
        goto done;
    }
    if (PyDict_GET_SIZE(b->deadlines)) {
        int has = PyDict_Contains(b->deadlines, key);
        if (has != 0) {
            r = has < 0 ? -1 : FALLBACK;
            goto done;
        }
    }
    PyObject *fields = NULL;
    if (Py_IS_TYPE(value, packed_type)) {
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(value);
        Py_ssize_t at = packed_find(p, &args[2]);
        if (at >= 0) {
            found = (const char *)p + at + 1;
            found_len = p[at];
        }
    }
    else if (Py_IS_TYPE(value, table_type)) {
        if (b->subexpiry) {
            int ttl = attr_true(value, s_field_ttl);
            if (ttl != 0) {
                r = ttl < 0 ? -1 : FALLBACK;
                goto done;
            }
        }
        fields = PyObject_GetAttr(value, s_fields);
        if (fields == NULL)
            goto done;
        PyObject *name = PyBytes_FromStringAndSize(args[2].at, args[2].len);
        if (name == NULL) {
            Py_DECREF(fields);
            goto done;
        }
        PyObject *v = PyDict_GetItemWithError(fields, name);
        Py_DECREF(name);
        if (v == NULL && PyErr_Occurred()) {
            Py_DECREF(fields);
            goto done;
        }
        if (v != NULL) {
            found = PyBytes_AS_STRING(v);
            found_len = PyBytes_GET_SIZE(v);
        }
    }
    else {
        r = FALLBACK; /* a string: WRONGTYPE, written by the Python path */
        goto done;
    }
    if (PySet_Add(b->accessed, key) < 0 || list_increment(b->lookups, 0) < 0 ||
        (found ? reply_bulk(b, found, found_len) : reply_null(b)) < 0) {
        Py_XDECREF(fields);
        goto done;
    }
    Py_XDECREF(fields); /* after the reply: it held the value's bytes */
    r = 0;
done:
    Py_DECREF(key);
    return r;
}

/* ---- HSET (one field) ---------------------------------------------------------------- */

static int
hset_packed(Batch *b, PyObject *key, PyObject *value, const Arg *field, const Arg *new)
{
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(value);
    Py_ssize_t size = PyBytes_GET_SIZE(value);
    if (new->len > listpack_max_value)
        return FALLBACK;
    Py_ssize_t at = packed_find(p, field);
    PyObject *packed;
    int added;
    if (at >= 0) {
        Py_ssize_t old = p[at];
        packed = packed_new(size - old + new->len);
        if (packed == NULL)
            return -1;
        unsigned char *q = (unsigned char *)PyBytes_AS_STRING(packed);
        memcpy(q, p, at);
        q[at] = (unsigned char)new->len;
        memcpy(q + at + 1, new->at, new->len);
        memcpy(q + at + 1 + new->len, p + at + 1 + old, size - at - 1 - old);
        b->data_bytes += new->len - old;
        added = 0;
    }
    else {
        if (p[0] >= packed_max_fields || field->len > listpack_max_value)
            return FALLBACK;
        Py_ssize_t grown = 2 + field->len + new->len;
        packed = packed_new(size + grown);
        if (packed == NULL)
            return -1;
        unsigned char *q = (unsigned char *)PyBytes_AS_STRING(packed);
        memcpy(q, p, size);
        q[0] = p[0] + 1;
        q[size] = (unsigned char)field->len;
        memcpy(q + size + 1, field->at, field->len);
        q[size + 1 + field->len] = (unsigned char)new->len;
        memcpy(q + size + 2 + field->len, new->at, new->len);
        b->data_bytes += grown;
        added = 1;
    }
    int r = PyDict_SetItem(b->tables, key, packed);
    Py_DECREF(packed);
    if (r < 0)
        return -1;
    return reply_integer(b, added) < 0 ? -1 : 0;
}

static int
hset_table(Batch *b, PyObject *table, const Arg *field, const Arg *new)
{
    PyObject *fields = NULL, *index = NULL, *name = NULL, *v = NULL;
    int r = -1;
    int listpack = attr_true(table, s_listpack);
    int ttl = attr_true(table, s_field_ttl);
    if (listpack < 0 || ttl < 0)
        return -1;
    if (ttl)
        return FALLBACK; /* an overwrite clears the field's TTL */
    if ((fields = PyObject_GetAttr(table, s_fields)) == NULL ||
        (index = PyObject_GetAttr(table, s_index)) == NULL ||
        (name = PyBytes_FromStringAndSize(field->at, field->len)) == NULL)
        goto done;
    if (!PyDict_CheckExact(fields) || (!listpack && index == Py_None)) {
        r = FALLBACK;
        goto done;
    }
    PyObject *old = PyDict_GetItemWithError(fields, name);
    if (old == NULL && PyErr_Occurred())
        goto done;
    Py_ssize_t grown;
    if (old != NULL) {
        if (listpack && new->len > listpack_max_value) {
            r = FALLBACK;
            goto done;
        }
        grown = new->len - PyBytes_GET_SIZE(old);
    }
    else {
        if (listpack && (field->len > listpack_max_value || new->len > listpack_max_value ||
                         PyDict_GET_SIZE(fields) + 1 > listpack_max_entries)) {
            r = FALLBACK;
            goto done;
        }
        grown = field_overhead + field->len + new->len;
    }
    if ((v = PyBytes_FromStringAndSize(new->at, new->len)) == NULL)
        goto done;
    if (old == NULL && index != Py_None) {
        PyObject *res = PyObject_CallMethodOneArg(index, s_add, name);
        if (res == NULL)
            goto done;
        Py_DECREF(res);
    }
    if (PyDict_SetItem(fields, name, v) < 0 || add_to_attr(table, s_size, grown) < 0)
        goto done;
    b->data_bytes += grown;
    r = reply_integer(b, old == NULL) < 0 ? -1 : 0;
done:
    Py_XDECREF(fields);
    Py_XDECREF(index);
    Py_XDECREF(name);
    Py_XDECREF(v);
    return r;
}

static int
run_hset(Batch *b, const Arg *args)
{
    PyObject *key = PyBytes_FromStringAndSize(args[1].at, args[1].len);
    if (key == NULL)
        return -1;
    int r = -1;
    PyObject *value = PyDict_GetItemWithError(b->tables, key);
    if (value == NULL) {
        r = PyErr_Occurred() ? -1 : FALLBACK; /* a new key: the Python path attaches it */
        goto done;
    }
    Py_INCREF(value);
    if (PyDict_GET_SIZE(b->deadlines) && (r = PyDict_Contains(b->deadlines, key)) != 0)
        goto checked;
    if (PyDict_GET_SIZE(b->watchers) && (r = PyDict_Contains(b->watchers, key)) != 0)
        goto checked;
    if (Py_IS_TYPE(value, packed_type))
        r = hset_packed(b, key, value, &args[2], &args[3]);
    else if (Py_IS_TYPE(value, table_type))
        r = hset_table(b, value, &args[2], &args[3]);
    else
        r = FALLBACK;
    if (r == 0) {
        b->dirty += 1;
        if (PySet_Add(b->accessed, key) < 0)
            r = -1;
    }
    Py_DECREF(value);
    goto done;
checked:
    Py_DECREF(value);
    if (r > 0)
        r = FALLBACK;
done:
    Py_DECREF(key);
    return r;
}

/* ---- the batch ---------------------------------------------------------------------- */

static long long
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The request's arguments as the list the Python path hands around. */
static PyObject *
argv_list(const Arg *args, int argc)
{
    PyObject *argv = PyList_New(argc);
    if (argv == NULL)
        return NULL;
    for (int i = 0; i < argc; i++) {
        PyObject *arg = PyBytes_FromStringAndSize(args[i].at, args[i].len);
        if (arg == NULL) {
            Py_DECREF(argv);
            return NULL;
        }
        PyList_SET_ITEM(argv, i, arg);
    }
    return argv;
}

/* `Server.call`'s write hooks (the append-only file) after a write that changed data. */
static int
run_write_hooks(Batch *b, PyObject *spec, const Arg *args, int argc)
{
    PyObject *argv = argv_list(args, argc);
    if (argv == NULL)
        return -1;
    int r = 0;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(b->write_hooks); i++) {
        PyObject *hook = PyList_GET_ITEM(b->write_hooks, i);
        Py_INCREF(hook);
        PyObject *res = PyObject_CallFunctionObjArgs(hook, b->client, spec, argv, NULL);
        Py_DECREF(hook);
        if (res == NULL)
            r = -1;
        Py_XDECREF(res);
    }
    Py_DECREF(argv);
    return r;
}

/* The statistics `Server.call` records after a command: its duration in the histogram,
 * and the slow log / monitor feed past the threshold. */
static int
record(Batch *b, PyObject *spec, const Arg *args, int argc, long long micros)
{
    PyObject *stats = stats_row(b, spec);
    if (stats == NULL)
        return -1;
    PyObject *histogram = PyObject_GetAttr(stats, s_histogram);
    if (histogram == NULL) {
        Py_DECREF(stats);
        return -1;
    }
    int r;
    if (PyList_CheckExact(histogram) && micros < PyList_GET_SIZE(histogram))
        r = list_increment(histogram, (Py_ssize_t)micros);
    else {
        PyObject *count = PyLong_FromLongLong(micros);
        PyObject *res = count == NULL ? NULL
            : PyObject_CallMethodOneArg(stats, s_record_long, count);
        Py_XDECREF(count);
        r = res == NULL ? -1 : 0;
        Py_XDECREF(res);
    }
    Py_DECREF(histogram);
    Py_DECREF(stats);
    if (r < 0 || micros < b->observe_us)
        return r;
    PyObject *argv = argv_list(args, argc);
    if (argv == NULL)
        return -1;
    PyObject *micros_obj = PyLong_FromLongLong(micros);
    PyObject *res = micros_obj == NULL ? NULL
        : PyObject_CallMethodObjArgs(b->server, s_observe, spec, b->client, argv,
                                     micros_obj, NULL);
    Py_XDECREF(micros_obj);
    Py_DECREF(argv);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

PyDoc_STRVAR(serve_doc,
"serve(server, client, keyspace, data) -> int\n\n"
"Run the leading HGET and HSET requests of `data` (a read that starts at a request\n"
"boundary) for `client`, as the Python path would; returns how many bytes they took.\n"
"The caller parses and runs the rest. Returns 0 when the server's or client's state\n"
"asks for the Python path's checks.");

static PyObject *
serve(PyObject *module, PyObject *const *argv, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "serve(server, client, keyspace, data)");
        return NULL;
    }
    if (!PyBytes_Check(argv[3]))
        return PyLong_FromLong(0);
    if (packed_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "configure() was not called");
        return NULL;
    }
    const char *start = PyBytes_AS_STRING(argv[3]);
    const char *end = start + PyBytes_GET_SIZE(argv[3]);
    if (start == end || *start != '*')
        return PyLong_FromLong(0);
    Batch b = {.server = argv[0], .client = argv[1], .keyspace = argv[2]};
    int r = serve_allowed(&b);
    if (r <= 0)
        return r < 0 ? NULL : PyLong_FromLong(0);
    r = batch_open(&b);
    if (r <= 0) {
        batch_release(&b);
        return r < 0 ? NULL : PyLong_FromLong(0);
    }
    const char *p = start;
    int failed = 0;
    Arg args[4];
    int argc;
    while (p < end && PyByteArray_GET_SIZE(b.out) < b.flush_at) {
        const char *next = read_request(p, end, args, &argc);
        if (next == NULL)
            break;
        PyObject *spec;
        long long began = now_ns();
        if (argc == 3 && is_name(&args[0], "hget")) {
            spec = hget_spec;
            r = run_hget(&b, args);
        }
        else if (argc == 4 && is_name(&args[0], "hset")) {
            spec = hset_spec;
            r = run_hset(&b, args);
        }
        else
            break;
        if (r == FALLBACK)
            break;
        if (r < 0 || record(&b, spec, args, argc, (now_ns() - began) / 1000) < 0 ||
            (spec == hset_spec && b.write_hooks != NULL &&
             run_write_hooks(&b, spec, args, argc) < 0)) {
            failed = 1;
            break;
        }
        b.last_spec = spec;
        p = next;
    }
    if (failed) {
        /* Keep the counters true for what ran; the error is the one reported. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        batch_close(&b);
        PyErr_Restore(type, value, tb);
        return NULL;
    }
    if (batch_close(&b) < 0)
        return NULL;
    return PyLong_FromSsize_t(p - start);
}

PyDoc_STRVAR(configure_doc,
"configure(packed, table, hget, hset, field_overhead, listpack_max_value,\n"
"          listpack_max_entries, packed_max_fields)\n\n"
"The keyspace's value classes, the HGET and HSET declarations and the encoding limits.");

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *packed, *table, *hget, *hset;
    Py_ssize_t overhead, max_value, max_entries, max_fields;
    if (!PyArg_ParseTuple(args, "O!O!OOnnnn", &PyType_Type, &packed, &PyType_Type, &table,
                          &hget, &hset, &overhead, &max_value, &max_entries, &max_fields))
        return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)packed, &PyBytes_Type) || max_value > 255 ||
        max_fields > 255) {
        PyErr_SetString(PyExc_ValueError, "a packed hash is bytes with one-byte lengths");
        return NULL;
    }
    PyObject *hget_full = PyObject_GetAttrString(hget, "full_name");
    PyObject *hset_full = PyObject_GetAttrString(hset, "full_name");
    if (hget_full == NULL || hset_full == NULL) {
        Py_XDECREF(hget_full);
        Py_XDECREF(hset_full);
        return NULL;
    }
    Py_XSETREF(hget_name, hget_full);
    Py_XSETREF(hset_name, hset_full);
    Py_INCREF(packed);
    Py_INCREF(table);
    Py_INCREF(hget);
    Py_INCREF(hset);
    Py_XSETREF(packed_type, (PyTypeObject *)packed);
    Py_XSETREF(table_type, (PyTypeObject *)table);
    Py_XSETREF(hget_spec, hget);
    Py_XSETREF(hset_spec, hset);
    field_overhead = overhead;
    listpack_max_value = max_value;
    listpack_max_entries = max_entries;
    packed_max_fields = max_fields;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"serve", (PyCFunction)(void (*)(void))serve, METH_FASTCALL, serve_doc},
    {"configure", configure, METH_VARARGS, configure_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_fastpath",
    "The compiled fast path for HGET and HSET (see resp_arbiter/_fastpath.c).", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__fastpath(void)
{
    struct {
        PyObject **slot;
        const char *text;
    } names[] = {
        {&s_out, "out"}, {&s_flush_at, "flush_at"}, {&s_resp, "resp"},
        {&s_multi, "multi"}, {&s_tracking, "tracking"},
        {&s_authenticated, "authenticated"}, {&s_gated, "_gated"},
        {&s_maxmemory, "maxmemory"}, {&s_deny_writes, "deny_writes"}, {&s_aof, "aof"},
        {&s_state, "state"}, {&s_write_hooks, "_write_hooks"},
        {&s_on_change, "on_change"}, {&s_lfu, "lfu"}, {&s_frozen, "frozen"},
        {&s_tables, "tables"}, {&s_deadlines, "deadlines"}, {&s_accessed, "accessed"},
        {&s_watchers, "watchers"}, {&s_subexpiry, "subexpiry"}, {&s_lookups, "lookups"},
        {&s_command_stats, "command_stats"}, {&s_observe_us, "_observe_us"},
        {&s_histogram, "histogram"}, {&s_record_long, "record_long"},
        {&s_observe, "_observe"}, {&s_dirty, "dirty"}, {&s_data_bytes, "data_bytes"},
        {&s_snapshot, "snapshot"}, {&s_last_command, "last_command"},
        {&s_error_stats, "error_stats"}, {&s_current, "current"}, {&s_fields, "fields"},
        {&s_index, "index"}, {&s_listpack, "listpack"}, {&s_field_ttl, "field_ttl"},
        {&s_size, "size"}, {&s_add, "add"}, {&s_close_after_reply, "close_after_reply"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL)
            return NULL;
    }
    s_zero = PyLong_FromLong(0);
    s_one = PyLong_FromLong(1);
    if (s_zero == NULL || s_one == NULL)
        return NULL;
    return PyModule_Create(&module_def);
}
