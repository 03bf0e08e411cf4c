/*
 * The compiled fast path of the arbiter: a read's leading HGET, HSET, GET and SET
 * requests, parsed and run in C.
 *
 * Python does a command in hundreds of interpreter steps; Redis does a whole HSET in
 * about 5,000 machine instructions. This module takes the requests most of a stash's
 * traffic is made of, in the states most of its time is spent in, and does exactly what
 * the Python path (`Server.call`, `Keyspace.get_hash`/`set_fields`/`get_string`/
 * `set_string`, `Packed`, `Table`) does for them: the same keyspace objects, counters,
 * statistics and reply bytes. Anything else stops it before any effect, and the Python
 * path goes on from that request: other commands and options, a framing that is not the
 * canonical one, an incomplete request, a key whose deadline has passed, a SET that
 * drops a TTL, a write to a WATCHed key, a field TTL, a new key, a value that would
 * change its encoding or type, and every server state that adds checks (see
 * `serve_allowed`). The pure-Python path stays complete on its own: without this module
 * (no compiler at install, or RESP_ARBITER_PURE_PYTHON set) every request takes it.
 *
 * The objects it reads are the Python path's own. Attributes of the classes with
 * `__slots__` (Client, Keyspace, Table, CommandStats, ErrorStats) are read and written
 * at their slot's offset, found once by configure(), as compiled extensions such as
 * Cython's read their own classes: a read costs a load instead of an attribute lookup.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <time.h>
#ifndef Py_T_OBJECT_EX
#include <structmember.h>
#define Py_T_OBJECT_EX T_OBJECT_EX
#endif

/* The classes whose slots are read, in the order of `configure`'s arguments. */
enum { CLIENT, KEYSPACE, TABLE, STATS, ERROR_STATS, PARSER, SERVER_STATS, CLASS_COUNT };
static PyTypeObject *classes[CLASS_COUNT];

enum {
    CL_OUT, CL_FLUSH_AT, CL_RESP, CL_MULTI, CL_TRACKING, CL_AUTHENTICATED,
    CL_CLOSE_AFTER_REPLY, CL_LAST_COMMAND, CL_HELD, CL_WRITE_PAUSED, CL_POSTPONED,
    CL_LAST_INTERACTION, CL_TRANSPORT, CL_PARSER, CL_DB,
    KS_CLOCK, KS_TABLES, KS_DEADLINES, KS_ACCESSED, KS_WATCHERS, KS_SUBEXPIRY, KS_ON_CHANGE, KS_LFU,
    KS_FROZEN, KS_DIRTY, KS_DATA_BYTES, KS_SNAPSHOT, KS_LOOKUPS,
    TB_FIELDS, TB_INDEX, TB_LISTPACK, TB_FIELD_TTL, TB_SIZE,
    ST_HISTOGRAM, ES_CURRENT, PA_STRICT, PA_PENDING_ERROR, SS_NET_INPUT, SS_NET_OUTPUT,
    SLOT_COUNT
};
static const struct {
    int owner;
    const char *name;
} slot_names[SLOT_COUNT] = {
    {CLIENT, "out"}, {CLIENT, "flush_at"}, {CLIENT, "resp"}, {CLIENT, "multi"},
    {CLIENT, "tracking"}, {CLIENT, "authenticated"}, {CLIENT, "close_after_reply"},
    {CLIENT, "last_command"}, {CLIENT, "held"}, {CLIENT, "write_paused"},
    {CLIENT, "postponed"}, {CLIENT, "last_interaction"}, {CLIENT, "transport"},
    {CLIENT, "parser"}, {CLIENT, "db"},
    {KEYSPACE, "clock"}, {KEYSPACE, "tables"}, {KEYSPACE, "deadlines"}, {KEYSPACE, "accessed"},
    {KEYSPACE, "watchers"}, {KEYSPACE, "subexpiry"}, {KEYSPACE, "on_change"},
    {KEYSPACE, "lfu"}, {KEYSPACE, "frozen"}, {KEYSPACE, "dirty"}, {KEYSPACE, "data_bytes"},
    {KEYSPACE, "snapshot"}, {KEYSPACE, "lookups"},
    {TABLE, "fields"}, {TABLE, "index"}, {TABLE, "listpack"}, {TABLE, "field_ttl"},
    {TABLE, "size"},
    {STATS, "histogram"}, {ERROR_STATS, "current"},
    {PARSER, "_strict"}, {PARSER, "pending_error"},
    {SERVER_STATS, "net_input_bytes"}, {SERVER_STATS, "net_output_bytes"},
};
static Py_ssize_t offsets[SLOT_COUNT];

/* The slot's value (borrowed; NULL while it is unset). */
#define SLOT(obj, i) (*(PyObject **)((char *)(obj) + offsets[i]))

static void
set_slot(PyObject *obj, int i, PyObject *value)
{
    Py_INCREF(value);
    Py_XSETREF(SLOT(obj, i), value);
}

/* Set once by configure(): the value classes and the command declarations. */
static PyTypeObject *packed_type;
/* The commands served, in the order of configure()'s `commands`. */
enum { CMD_HGET, CMD_HSET, CMD_GET, CMD_SET, CMD_COUNT };
static PyObject *specs[CMD_COUNT]; /* their declarations (registry.Command) */
static PyObject *full_names[CMD_COUNT];
static const int reads[CMD_COUNT] = {1, 0, 1, 0}; /* count keyspace hits and misses */
static PyObject *wall_clock_ms;    /* keyspace.now_ms: read here without calling it */
static Py_ssize_t give_away_at;    /* client.GIVE_AWAY_AT: a reply buffer `flush` sends */
static Py_ssize_t field_overhead, listpack_max_value, listpack_max_entries,
    packed_max_fields;

/* Interned names of the server's attributes (a plain class: read from its __dict__). */
static PyObject *s_gated, *s_maxmemory, *s_deny_writes, *s_aof, *s_state, *s_write_hooks,
    *s_lookups, *s_command_stats, *s_observe_us, *s_error_stats, *s_record_long,
    *s_observe, *s_add, *s_stats, *s_tracking, *s_undelivered, *s_buffer, *s_held,
    *s_write, *s_zero, *s_one;

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

/* Reads one request of 2 to 4 bulk arguments at `p`; returns its end, or NULL. */
static const char *
read_request(const char *p, const char *end, Arg *args, int *argc)
{
    Py_ssize_t count, len;
    if (p >= end || *p != '*')
        return NULL;
    p = read_number(p + 1, end, &count);
    if (p == NULL || count < 2 || count > 4)
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

/* Whether the command name `arg` is `lower` (in lower case), whatever its case. */
static int
is_name(const Arg *arg, const char *lower, Py_ssize_t len)
{
    if (arg->len != len)
        return 0;
    for (Py_ssize_t i = 0; i < len; i++)
        if ((arg->at[i] | 0x20) != lower[i])
            return 0;
    return 1;
}

/* Which served command the request is, or -1. */
static int
command_of(const Arg *args, int argc)
{
    switch (argc) {
    case 2:
        return is_name(&args[0], "get", 3) ? CMD_GET : -1;
    case 3:
        return is_name(&args[0], "hget", 4) ? CMD_HGET
             : is_name(&args[0], "set", 3) ? CMD_SET : -1;
    case 4:
        return is_name(&args[0], "hset", 4) ? CMD_HSET : -1;
    }
    return -1;
}

/* ---- the state a batch runs in ------------------------------------------------------ */

typedef struct {
    PyObject *stats;     /* the command's CommandStats row */
    PyObject *histogram; /* its histogram list */
} Row;

typedef struct {
    PyObject *server, *client, *keyspace;
    PyObject *server_dict; /* borrowed: the caller holds it for the call */
    /* Held for the batch (new references): */
    PyObject *out, *tables, *deadlines, *accessed, *watchers, *lookups, *command_stats,
        *error_stats;
    PyObject *write_hooks; /* NULL when the only hook, the append-only file's, is off */
    Row rows[CMD_COUNT];
    Py_ssize_t flush_at;
    int resp3, subexpiry;
    long long observe_us;         /* LLONG_MAX: never */
    Py_ssize_t dirty, data_bytes; /* added by this batch, written back at its end */
    int last;                     /* the last command run, or -1 */
    long long now;                /* this command's time (`Keyspace.now`), 0 if unread */
    long long last_now;           /* the last command's */
} Batch;

/* A server attribute (borrowed), from its instance dict; NULL with an error if absent. */
static PyObject *
dict_attr(PyObject *dict, PyObject *name)
{
    PyObject *value = PyDict_GetItemWithError(dict, name);
    if (value == NULL && !PyErr_Occurred())
        PyErr_SetObject(PyExc_AttributeError, name);
    return value;
}

static PyObject *
server_attr(Batch *b, PyObject *name)
{
    return dict_attr(b->server_dict, name);
}

static int
truth(PyObject *value)
{
    return value == NULL ? -1 : PyObject_IsTrue(value);
}

/* 1 when the batch may run: what `Server.call` checks before its inline path, and what
 * makes `Keyspace.touch` do nothing beyond the dirty counter. */
static int
serve_allowed(Batch *b)
{
    PyObject *client = b->client, *ks = b->keyspace;
    int r;
#define REQUIRE(expr)       \
    do {                    \
        r = (expr);         \
        if (r <= 0)         \
            return r;       \
    } while (0)
    REQUIRE(SLOT(client, CL_AUTHENTICATED) == Py_True);
    REQUIRE(SLOT(client, CL_CLOSE_AFTER_REPLY) == Py_False);
    REQUIRE(SLOT(client, CL_MULTI) == Py_None);
    REQUIRE(SLOT(client, CL_TRACKING) == Py_None);
    REQUIRE(SLOT(ks, KS_ON_CHANGE) == Py_None);
    REQUIRE(SLOT(ks, KS_LFU) == Py_False);
    REQUIRE(SLOT(ks, KS_FROZEN) == Py_False);
    REQUIRE(PyByteArray_CheckExact(SLOT(client, CL_OUT)));
    REQUIRE(PyLong_CheckExact(SLOT(client, CL_FLUSH_AT)));
    REQUIRE(PyLong_CheckExact(SLOT(client, CL_RESP)));
    REQUIRE(PyDict_CheckExact(SLOT(ks, KS_TABLES)));
    REQUIRE(PyDict_CheckExact(SLOT(ks, KS_DEADLINES)));
    REQUIRE(PySet_CheckExact(SLOT(ks, KS_ACCESSED)));
    REQUIRE(PyDict_CheckExact(SLOT(ks, KS_WATCHERS)));
    REQUIRE(PyLong_CheckExact(SLOT(ks, KS_SUBEXPIRY)));
    REQUIRE(PyLong_CheckExact(SLOT(ks, KS_DIRTY)));
    REQUIRE(PyLong_CheckExact(SLOT(ks, KS_DATA_BYTES)));
    REQUIRE(!truth(server_attr(b, s_gated)));
    REQUIRE(!truth(server_attr(b, s_maxmemory)));
    REQUIRE(server_attr(b, s_deny_writes) == Py_None);
    return 1;
#undef REQUIRE
}

/* Sets `b->write_hooks` to the server's write hooks, or NULL when there is only the
 * append-only file's and the file is off (its hook would return at once). */
static int
hooks_wanted(Batch *b)
{
    PyObject *hooks = server_attr(b, s_write_hooks);
    if (hooks == NULL)
        return -1;
    if (!PyList_CheckExact(hooks))
        return 0;
    if (PyList_GET_SIZE(hooks) == 1) {
        PyObject *aof = server_attr(b, s_aof);
        PyObject *state = aof == NULL ? NULL : PyObject_GetAttr(aof, s_state);
        if (state == NULL)
            return -1;
        int off = PyUnicode_Check(state) &&
                  PyUnicode_CompareWithASCIIString(state, "off") == 0;
        Py_DECREF(state);
        if (off)
            return 1;
    }
    Py_INCREF(hooks);
    b->write_hooks = hooks;
    return 1;
}

static PyObject *
hold(PyObject *value)
{
    Py_INCREF(value);
    return value;
}

/* Fills `b` (after serve_allowed); 1 ready, 0 the batch does not run, -1 error. */
static int
batch_open(Batch *b)
{
    PyObject *client = b->client, *ks = b->keyspace;
    PyObject *lookups = server_attr(b, s_lookups);
    PyObject *command_stats = lookups == NULL ? NULL : server_attr(b, s_command_stats);
    PyObject *error_stats = command_stats == NULL ? NULL : server_attr(b, s_error_stats);
    PyObject *observe = error_stats == NULL ? NULL : server_attr(b, s_observe_us);
    if (observe == NULL)
        return -1;
    if (!PyList_CheckExact(lookups) || PyList_GET_SIZE(lookups) != 2 ||
        !PyDict_Check(command_stats) || !Py_IS_TYPE(error_stats, classes[ERROR_STATS]) ||
        !PyLong_Check(observe))
        return 0;
    int overflow = 0;
    long long observe_us = PyLong_AsLongLongAndOverflow(observe, &overflow);
    if (observe_us == -1 && PyErr_Occurred())
        return -1;
    b->observe_us = overflow > 0 ? LLONG_MAX : overflow < 0 ? LLONG_MIN : observe_us;
    b->flush_at = PyLong_AsSsize_t(SLOT(client, CL_FLUSH_AT));
    if (b->flush_at == -1 && PyErr_Occurred())
        return -1;
    b->resp3 = PyLong_AsLong(SLOT(client, CL_RESP)) == 3;
    b->subexpiry = PyObject_IsTrue(SLOT(ks, KS_SUBEXPIRY));
    int r = hooks_wanted(b);
    if (r <= 0)
        return r;
    b->out = hold(SLOT(client, CL_OUT));
    b->tables = hold(SLOT(ks, KS_TABLES));
    b->deadlines = hold(SLOT(ks, KS_DEADLINES));
    b->accessed = hold(SLOT(ks, KS_ACCESSED));
    b->watchers = hold(SLOT(ks, KS_WATCHERS));
    b->lookups = hold(lookups);
    b->command_stats = hold(command_stats);
    b->error_stats = hold(error_stats);
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
    Py_XDECREF(b->error_stats);
    Py_XDECREF(b->write_hooks);
    for (int i = 0; i < CMD_COUNT; i++) {
        Py_XDECREF(b->rows[i].stats);
        Py_XDECREF(b->rows[i].histogram);
    }
}

/* Adds `delta` to the int in slot `i` of `obj`. */
static int
add_to_slot(PyObject *obj, int i, Py_ssize_t delta)
{
    if (delta == 0)
        return 0;
    PyObject *step = PyLong_FromSsize_t(delta);
    if (step == NULL)
        return -1;
    PyObject *sum = PyNumber_Add(SLOT(obj, i), step);
    Py_DECREF(step);
    if (sum == NULL)
        return -1;
    Py_XSETREF(SLOT(obj, i), sum);
    return 0;
}

/* The command's statistics row, made on first use as the defaultdict
 * `Server.command_stats` makes it; kept for the batch. NULL with an error. */
static Row *
stats_row(Batch *b, int command)
{
    Row *row = &b->rows[command];
    if (row->stats != NULL)
        return row;
    PyObject *stats = PyObject_GetItem(b->command_stats, specs[command]);
    if (stats == NULL)
        return NULL;
    if (!Py_IS_TYPE(stats, classes[STATS]) || !PyList_CheckExact(SLOT(stats, ST_HISTOGRAM))) {
        Py_DECREF(stats);
        PyErr_SetString(PyExc_TypeError, "a command statistics row is a CommandStats");
        return NULL;
    }
    row->stats = stats;
    row->histogram = hold(SLOT(stats, ST_HISTOGRAM));
    return row;
}

/* What `Server.call` leaves behind after the last command of the batch. */
static int
batch_close(Batch *b)
{
    int r = 0;
    PyObject *ks = b->keyspace;
    if (add_to_slot(ks, KS_DIRTY, b->dirty) < 0 ||
        add_to_slot(ks, KS_DATA_BYTES, b->data_bytes) < 0)
        r = -1;
    if (r == 0 && b->last >= 0) {
        Row *row = stats_row(b, b->last);
        PyObject *snapshot = b->last_now ? PyLong_FromLongLong(b->last_now) : hold(s_zero);
        if (row == NULL || snapshot == NULL)
            r = -1;
        else {
            set_slot(b->error_stats, ES_CURRENT, row->stats);
            set_slot(b->client, CL_LAST_COMMAND, full_names[b->last]);
            set_slot(ks, KS_SNAPSHOT, snapshot);
            set_slot(ks, KS_LOOKUPS, reads[b->last] ? b->lookups : Py_None);
        }
        Py_XDECREF(snapshot);
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

/* ---- keys -------------------------------------------------------------------------- */

/* `Keyspace.now()` for the running command: the clock is read once per command. */
static int
command_now(Batch *b, long long *now)
{
    if (!b->now) {
        PyObject *clock = SLOT(b->keyspace, KS_CLOCK);
        if (clock == wall_clock_ms) { /* time.time_ns() // 1_000_000, without the call */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            b->now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        }
        else {
            PyObject *value = clock == NULL ? NULL : PyObject_CallNoArgs(clock);
            if (value == NULL)
                return -1;
            b->now = PyLong_AsLongLong(value);
            Py_DECREF(value);
            if (b->now == -1 && PyErr_Occurred())
                return -1;
        }
    }
    *now = b->now;
    return 0;
}

/* 0 when `key` (which exists) has no deadline or one still ahead (`Keyspace.get` then
 * keeps it); FALLBACK when its time has passed: the Python path expires it. */
static int
check_deadline(Batch *b, PyObject *key)
{
    if (!PyDict_GET_SIZE(b->deadlines))
        return 0;
    PyObject *deadline = PyDict_GetItemWithError(b->deadlines, key);
    if (deadline == NULL)
        return PyErr_Occurred() ? -1 : 0;
    long long at = PyLong_AsLongLong(deadline), now;
    if ((at == -1 && PyErr_Occurred()) || command_now(b, &now) < 0)
        return -1;
    return at <= now ? FALLBACK : 0;
}

/* FALLBACK when a client WATCHes `key`: the Python path marks its transaction. */
static int
is_watched(Batch *b, PyObject *key)
{
    if (!PyDict_GET_SIZE(b->watchers))
        return 0;
    int has = PyDict_Contains(b->watchers, key);
    return has < 0 ? -1 : has ? FALLBACK : 0;
}

#define ANSWERED 2 /* read_key: the key does not exist, and the miss is answered */

/* A read's key (a new reference in `*key`) and its live value (borrowed, `*value`): 0.
 * A missing key is answered at once, as a miss with a null reply: ANSWERED. FALLBACK
 * when its deadline has passed. */
static int
read_key(Batch *b, const Arg *arg, PyObject **key, PyObject **value)
{
    if ((*key = PyBytes_FromStringAndSize(arg->at, arg->len)) == NULL)
        return -1;
    int r;
    if ((*value = PyDict_GetItemWithError(b->tables, *key)) != NULL)
        r = check_deadline(b, *key);
    else if (PyErr_Occurred())
        r = -1;
    else
        r = list_increment(b->lookups, 1) == 0 && reply_null(b) == 0 ? ANSWERED : -1;
    if (r != 0)
        Py_CLEAR(*key);
    return r;
}

/* A read that found its key: the access, the hit, and the value (NULL: none). */
static int
answer_read(Batch *b, PyObject *key, const char *found, Py_ssize_t length)
{
    return PySet_Add(b->accessed, key) == 0 && list_increment(b->lookups, 0) == 0 &&
        (found ? reply_bulk(b, found, length) : reply_null(b)) == 0 ? 0 : -1;
}

/* A write's key (a new reference in `*key`) and its value (borrowed, `*value`): 0.
 * FALLBACK for a new key (the Python path attaches it), a deadline passed, a WATCHed
 * key. */
static int
write_key(Batch *b, const Arg *arg, PyObject **key, PyObject **value)
{
    if ((*key = PyBytes_FromStringAndSize(arg->at, arg->len)) == NULL)
        return -1;
    *value = PyDict_GetItemWithError(b->tables, *key);
    int r = *value == NULL ? (PyErr_Occurred() ? -1 : FALLBACK) : check_deadline(b, *key);
    if (r == 0)
        r = is_watched(b, *key);
    if (r != 0)
        Py_CLEAR(*key);
    return r;
}

/* The end of a write: the access (`Keyspace.get`) and the dirty counter (`touch`). */
static int
count_write(Batch *b, PyObject *key)
{
    b->dirty += 1;
    return PySet_Add(b->accessed, key);
}

/* ---- GET and SET (strings) ------------------------------------------------------------ */

static int
is_string(PyObject *value)
{
    return PyBytes_Check(value) && !Py_IS_TYPE(value, packed_type);
}

static int
run_get(Batch *b, const Arg *args)
{
    PyObject *key, *value;
    int r = read_key(b, &args[1], &key, &value);
    if (r != 0)
        return r == ANSWERED ? 0 : r;
    if (is_string(value)) {
        Py_INCREF(value);
        r = answer_read(b, key, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
        Py_DECREF(value);
    }
    else
        r = FALLBACK; /* a hash: WRONGTYPE, written by the Python path */
    Py_DECREF(key);
    return r;
}

/* SET key value, without options, over a string without a deadline (`set_string`'s
 * overwrite: the value is stored as plain bytes, the key keeps its place). */
static int
run_set(Batch *b, const Arg *args)
{
    PyObject *key, *old;
    int r = write_key(b, &args[1], &key, &old);
    if (r != 0)
        return r;
    if (!is_string(old) || (r = PyDict_Contains(b->deadlines, key)) != 0) {
        Py_DECREF(key); /* a hash replaced, or a TTL dropped */
        return r < 0 ? -1 : FALLBACK;
    }
    r = -1;
    PyObject *value = PyBytes_FromStringAndSize(args[2].at, args[2].len);
    if (value != NULL) {
        Py_ssize_t grown = args[2].len - PyBytes_GET_SIZE(old);
        if (PyDict_SetItem(b->tables, key, value) == 0 && count_write(b, key) == 0 &&
            append(b->out, "+OK\r\n", 5) == 0) {
            b->data_bytes += grown;
            r = 0;
        }
        Py_DECREF(value);
    }
    Py_DECREF(key);
    return r;
}

/* ---- HGET --------------------------------------------------------------------------- */

/* 0 done, FALLBACK, -1 error. */
static int
run_hget(Batch *b, const Arg *args)
{
    PyObject *key, *value;
    int r = read_key(b, &args[1], &key, &value);
    if (r != 0)
        return r == ANSWERED ? 0 : r;
    r = -1;
    const char *found = NULL;
    Py_ssize_t found_len = 0;
    PyObject *held = NULL; /* the Table's value, held until it is copied */
    if (Py_IS_TYPE(value, packed_type)) {
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(value);
        Py_ssize_t at = packed_find(p, &args[2]);
        if (at >= 0) {
            found = (const char *)p + at + 1;
            found_len = p[at];
        }
    }
    else if (Py_IS_TYPE(value, classes[TABLE])) {
        PyObject *fields = SLOT(value, TB_FIELDS);
        if (!PyDict_CheckExact(fields)) {
            r = FALLBACK;
            goto done;
        }
        if (b->subexpiry) {
            int ttl = truth(SLOT(value, TB_FIELD_TTL));
            if (ttl != 0) {
                r = ttl < 0 ? -1 : FALLBACK;
                goto done;
            }
        }
        PyObject *name = PyBytes_FromStringAndSize(args[2].at, args[2].len);
        if (name == NULL)
            goto done;
        held = PyDict_GetItemWithError(fields, name);
        Py_DECREF(name);
        if (held == NULL && PyErr_Occurred())
            goto done;
        if (held != NULL) {
            Py_INCREF(held);
            found = PyBytes_AS_STRING(held);
            found_len = PyBytes_GET_SIZE(held);
        }
    }
    else {
        r = FALLBACK; /* a string: WRONGTYPE, written by the Python path */
        goto done;
    }
    r = answer_read(b, key, found, found_len);
    Py_XDECREF(held);
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
    PyObject *fields = SLOT(table, TB_FIELDS), *index = SLOT(table, TB_INDEX);
    PyObject *size = SLOT(table, TB_SIZE);
    int listpack = truth(SLOT(table, TB_LISTPACK));
    int ttl = truth(SLOT(table, TB_FIELD_TTL));
    if (listpack < 0 || ttl < 0)
        return -1;
    /* An overwrite clears a field's TTL; a table past the listpack limits has an index. */
    if (ttl || !PyDict_CheckExact(fields) || index == NULL || !PyLong_CheckExact(size) ||
        (!listpack && index == Py_None))
        return FALLBACK;
    PyObject *name = PyBytes_FromStringAndSize(field->at, field->len);
    if (name == NULL)
        return -1;
    int r = -1;
    PyObject *v = NULL;
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
        Py_INCREF(table);
        PyObject *res = PyObject_CallMethodOneArg(index, s_add, name);
        Py_DECREF(table);
        if (res == NULL)
            goto done;
        Py_DECREF(res);
    }
    if (PyDict_SetItem(SLOT(table, TB_FIELDS), name, v) < 0 ||
        add_to_slot(table, TB_SIZE, grown) < 0)
        goto done;
    b->data_bytes += grown;
    r = reply_integer(b, old == NULL) < 0 ? -1 : 0;
done:
    Py_DECREF(name);
    Py_XDECREF(v);
    return r;
}

static int
run_hset(Batch *b, const Arg *args)
{
    PyObject *key, *value;
    int r = write_key(b, &args[1], &key, &value);
    if (r != 0)
        return r;
    Py_INCREF(value);
    if (Py_IS_TYPE(value, packed_type))
        r = hset_packed(b, key, value, &args[2], &args[3]);
    else if (Py_IS_TYPE(value, classes[TABLE]))
        r = hset_table(b, value, &args[2], &args[3]);
    else
        r = FALLBACK; /* a string: WRONGTYPE, written by the Python path */
    if (r == 0 && count_write(b, key) < 0)
        r = -1;
    Py_DECREF(value);
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
run_write_hooks(Batch *b, int command, const Arg *args, int argc)
{
    PyObject *argv = argv_list(args, argc);
    if (argv == NULL)
        return -1;
    int r = 0;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(b->write_hooks); i++) {
        PyObject *hook = PyList_GET_ITEM(b->write_hooks, i);
        Py_INCREF(hook);
        PyObject *res = PyObject_CallFunctionObjArgs(hook, b->client, specs[command], argv,
                                                     NULL);
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
record(Batch *b, int command, const Arg *args, int argc, long long micros)
{
    Row *row = stats_row(b, command);
    if (row == NULL)
        return -1;
    if (micros < PyList_GET_SIZE(row->histogram)) {
        if (list_increment(row->histogram, (Py_ssize_t)micros) < 0)
            return -1;
    }
    else {
        PyObject *count = PyLong_FromLongLong(micros);
        PyObject *res = count == NULL ? NULL
            : PyObject_CallMethodOneArg(row->stats, s_record_long, count);
        Py_XDECREF(count);
        if (res == NULL)
            return -1;
        Py_DECREF(res);
    }
    if (micros < b->observe_us)
        return 0;
    PyObject *argv = argv_list(args, argc);
    if (argv == NULL)
        return -1;
    PyObject *micros_obj = PyLong_FromLongLong(micros);
    PyObject *res = micros_obj == NULL ? NULL
        : PyObject_CallMethodObjArgs(b->server, s_observe, specs[command], b->client,
                                     argv, micros_obj, NULL);
    Py_XDECREF(micros_obj);
    Py_DECREF(argv);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

/* Runs the leading requests of `data` it serves; returns the bytes they took, or -1
 * with an error. `b` has server (and its dict), client and keyspace set. */
static Py_ssize_t
run_batch(Batch *b, PyObject *data)
{
    const char *start = PyBytes_AS_STRING(data);
    const char *end = start + PyBytes_GET_SIZE(data);
    if (start == end || *start != '*' || !Py_IS_TYPE(b->keyspace, classes[KEYSPACE]))
        return 0;
    int r = serve_allowed(b);
    if (r > 0)
        r = batch_open(b);
    if (r <= 0) {
        batch_release(b);
        return r;
    }
    const char *p = start;
    int failed = 0;
    Arg args[4];
    int argc;
    b->last = -1;
    while (p < end && PyByteArray_GET_SIZE(b->out) < b->flush_at) {
        const char *next = read_request(p, end, args, &argc);
        if (next == NULL)
            break;
        int command = command_of(args, argc);
        if (command < 0)
            break;
        b->now = 0;
        long long began = now_ns();
        r = command == CMD_HGET ? run_hget(b, args)
          : command == CMD_HSET ? run_hset(b, args)
          : command == CMD_GET ? run_get(b, args)
          : run_set(b, args);
        if (r == FALLBACK)
            break;
        if (r < 0 || record(b, command, args, argc, (now_ns() - began) / 1000) < 0 ||
            (!reads[command] && b->write_hooks != NULL &&
             run_write_hooks(b, command, args, argc) < 0)) {
            failed = 1;
            break;
        }
        b->last = command;
        b->last_now = b->now;
        p = next;
    }
    if (failed) {
        /* Keep the counters true for what ran; the error is the one reported. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        batch_close(b);
        PyErr_Restore(type, value, tb);
        return -1;
    }
    return batch_close(b) < 0 ? -1 : p - start;
}

PyDoc_STRVAR(serve_doc,
"serve(server, client, keyspace, data) -> int\n\n"
"Run the leading HGET, HSET, GET and SET requests of `data` (bytes that start at a\n"
"request boundary) for `client`, as the Python path would; returns how many bytes\n"
"they took. The caller parses and runs the rest. Returns 0 when the server's or\n"
"client's state asks for the Python path's checks.");

/* 1 when `serve` or `read` was called as declared (`usage`) after configure(); 0 when
 * its client or data are not what the fast path serves; -1 with an error. */
static int
called_as(Py_ssize_t nargs, Py_ssize_t wanted, const char *usage, PyObject *client,
          PyObject *data)
{
    if (nargs != wanted) {
        PyErr_SetString(PyExc_TypeError, usage);
        return -1;
    }
    if (packed_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "configure() was not called");
        return -1;
    }
    return PyBytes_Check(data) && Py_IS_TYPE(client, classes[CLIENT]);
}

static PyObject *
serve(PyObject *module, PyObject *const *argv, Py_ssize_t nargs)
{
    int r = called_as(nargs, 4, "serve(server, client, keyspace, data)", argv[1],
                      argv[nargs - 1]);
    if (r <= 0)
        return r < 0 ? NULL : PyLong_FromLong(0);
    Batch b = {.server = argv[0], .client = argv[1], .keyspace = argv[2]};
    b.server_dict = PyObject_GenericGetDict(b.server, NULL);
    if (b.server_dict == NULL)
        return NULL;
    Py_ssize_t taken = run_batch(&b, argv[3]);
    Py_DECREF(b.server_dict);
    return taken < 0 ? NULL : PyLong_FromSsize_t(taken);
}

#define NOTHING_DONE -2 /* `read` did nothing: the Python path takes the whole read */
#define READ_DONE -1    /* `read` served the whole read and sent its replies */

/* The end of `Client.data_received` (`_end_read`) in its usual case: 1 when the
 * replies were sent here, 0 when `_end_read` has more to do (the append-only file
 * holds them, invalidations wait, the client closes, a large or swapped buffer). */
static int
send_replies(PyObject *server_dict, PyObject *client, PyObject *stats)
{
    PyObject *out = SLOT(client, CL_OUT), *transport = SLOT(client, CL_TRANSPORT);
    if (transport == NULL || transport == Py_None || !PyByteArray_CheckExact(out) ||
        PyByteArray_GET_SIZE(out) >= give_away_at ||
        SLOT(client, CL_CLOSE_AFTER_REPLY) != Py_False)
        return 0;
    PyObject *aof = dict_attr(server_dict, s_aof);
    PyObject *tracking = aof == NULL ? NULL : dict_attr(server_dict, s_tracking);
    if (tracking == NULL)
        return -1;
    int waiting = 0;
    PyObject *sources[3][2] = {{aof, s_buffer}, {aof, s_held}, {tracking, s_undelivered}};
    for (int i = 0; i < 3 && !waiting; i++) {
        PyObject *value = PyObject_GetAttr(sources[i][0], sources[i][1]);
        waiting = truth(value);
        Py_XDECREF(value);
    }
    if (waiting != 0)
        return waiting < 0 ? -1 : 0;
    Py_ssize_t size = PyByteArray_GET_SIZE(out);
    if (size == 0)
        return 1;
    if (add_to_slot(stats, SS_NET_OUTPUT, size) < 0)
        return -1;
    PyObject *sent = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(out), size);
    if (sent == NULL)
        return -1;
    Py_INCREF(out);
    Py_INCREF(transport);
    PyObject *res = PyObject_CallMethodOneArg(transport, s_write, sent);
    Py_DECREF(sent);
    Py_DECREF(transport);
    int r = res == NULL ? -1 : PyByteArray_Resize(out, 0) < 0 ? -1 : 1;
    Py_XDECREF(res);
    Py_DECREF(out);
    return r;
}

PyDoc_STRVAR(read_doc,
"read(server, client, data) -> int\n\n"
"`Client.data_received` in its usual case. Counts the read and the client's last\n"
"interaction, runs the leading HGET, HSET, GET and SET requests, and when they were\n"
"the whole read, sends their replies: then it returns -1. Otherwise it returns the\n"
"bytes it ran (0 when the client holds input or a request is open), for the Python\n"
"path to go on from; -2 when it did nothing at all, not even the counting.");

static PyObject *
read_(PyObject *module, PyObject *const *argv, Py_ssize_t nargs)
{
    int r = called_as(nargs, 3, "read(server, client, data)", argv[1], argv[nargs - 1]);
    if (r <= 0)
        return r < 0 ? NULL : PyLong_FromLong(NOTHING_DONE);
    PyObject *server = argv[0], *client = argv[1], *data = argv[2];
    PyObject *server_dict = PyObject_GenericGetDict(server, NULL);
    if (server_dict == NULL)
        return NULL;
    PyObject *stats = dict_attr(server_dict, s_stats);
    if (stats == NULL || !Py_IS_TYPE(stats, classes[SERVER_STATS])) {
        Py_DECREF(server_dict);
        return stats == NULL ? NULL : PyLong_FromLong(NOTHING_DONE);
    }
    Py_INCREF(stats);
    Py_ssize_t taken = -1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* time.monotonic() */
    PyObject *now = PyFloat_FromDouble((double)ts.tv_sec + ts.tv_nsec * 1e-9);
    if (now == NULL || add_to_slot(stats, SS_NET_INPUT, PyBytes_GET_SIZE(data)) < 0) {
        Py_XDECREF(now);
        goto done;
    }
    Py_XSETREF(SLOT(client, CL_LAST_INTERACTION), now);
    taken = 0;
    PyObject *parser = SLOT(client, CL_PARSER);
    if (SLOT(client, CL_HELD) == Py_False && SLOT(client, CL_WRITE_PAUSED) == Py_False &&
        SLOT(client, CL_POSTPONED) == Py_False && parser != NULL &&
        Py_IS_TYPE(parser, classes[PARSER]) && SLOT(parser, PA_STRICT) == Py_None &&
        SLOT(parser, PA_PENDING_ERROR) == Py_None && SLOT(client, CL_DB) != NULL) {
        Batch b = {.server = server, .server_dict = server_dict, .client = client,
                   .keyspace = SLOT(client, CL_DB)};
        taken = run_batch(&b, data);
        if (taken == PyBytes_GET_SIZE(data)) {
            int sent = send_replies(server_dict, client, stats);
            if (sent < 0)
                taken = -1;
            else if (sent)
                taken = READ_DONE;
        }
    }
done:
    Py_DECREF(stats);
    Py_DECREF(server_dict);
    return taken == -1 && PyErr_Occurred() ? NULL : PyLong_FromSsize_t(taken);
}

PyDoc_STRVAR(configure_doc,
"configure(client, database, table, command_stats, error_stats, request_parser,\n"
"          server_stats, packed, commands, now_ms, give_away_at, field_overhead,\n"
"          listpack_max_value, listpack_max_entries, packed_max_fields)\n\n"
"The classes whose slots the fast path reads, the packed hash class, the declarations\n"
"of HGET, HSET, GET and SET (in that order), the keyspace's wall clock, the reply\n"
"size `Client.flush` sends itself, and the encoding limits.");

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *given[CLASS_COUNT], *packed, *commands, *now_ms;
    Py_ssize_t give_away, overhead, max_value, max_entries, max_fields;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!O!O!O!Onnnnn", &PyType_Type, &given[CLIENT],
                          &PyType_Type, &given[KEYSPACE], &PyType_Type, &given[TABLE],
                          &PyType_Type, &given[STATS], &PyType_Type, &given[ERROR_STATS],
                          &PyType_Type, &given[PARSER], &PyType_Type, &given[SERVER_STATS],
                          &PyType_Type, &packed, &PyTuple_Type, &commands, &now_ms,
                          &give_away, &overhead, &max_value, &max_entries, &max_fields))
        return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)packed, &PyBytes_Type) || max_value > 255 ||
        max_fields > 255 || PyTuple_GET_SIZE(commands) != CMD_COUNT) {
        PyErr_SetString(PyExc_ValueError,
                        "four commands; a packed hash is bytes with one-byte lengths");
        return NULL;
    }
    Py_ssize_t found[SLOT_COUNT];
    for (int i = 0; i < SLOT_COUNT; i++) {
        PyObject *descr = PyObject_GetAttrString(given[slot_names[i].owner],
                                                 slot_names[i].name);
        if (descr == NULL)
            return NULL;
        int is_slot = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
            ((PyMemberDescrObject *)descr)->d_member->type == Py_T_OBJECT_EX;
        if (is_slot)
            found[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
        if (!is_slot) {
            PyErr_Format(PyExc_TypeError, "%s is not a __slots__ attribute",
                         slot_names[i].name);
            return NULL;
        }
    }
    PyObject *names[CMD_COUNT];
    for (int i = 0; i < CMD_COUNT; i++) {
        names[i] = PyObject_GetAttrString(PyTuple_GET_ITEM(commands, i), "full_name");
        if (names[i] == NULL) {
            while (--i >= 0)
                Py_DECREF(names[i]);
            return NULL;
        }
    }
    memcpy(offsets, found, sizeof offsets);
    for (int i = 0; i < CLASS_COUNT; i++) {
        Py_INCREF(given[i]);
        Py_XSETREF(classes[i], (PyTypeObject *)given[i]);
    }
    for (int i = 0; i < CMD_COUNT; i++) {
        Py_XSETREF(full_names[i], names[i]);
        Py_XSETREF(specs[i], hold(PyTuple_GET_ITEM(commands, i)));
    }
    Py_INCREF(packed);
    Py_XSETREF(packed_type, (PyTypeObject *)packed);
    Py_XSETREF(wall_clock_ms, hold(now_ms));
    give_away_at = give_away;
    field_overhead = overhead;
    listpack_max_value = max_value;
    listpack_max_entries = max_entries;
    packed_max_fields = max_fields;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"serve", (PyCFunction)(void (*)(void))serve, METH_FASTCALL, serve_doc},
    {"read", (PyCFunction)(void (*)(void))read_, METH_FASTCALL, read_doc},
    {"configure", configure, METH_VARARGS, configure_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_fastpath",
    "The compiled fast path for HGET, HSET, GET and SET (see resp_arbiter/_fastpath.c).",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__fastpath(void)
{
    struct {
        PyObject **slot;
        const char *text;
    } names[] = {
        {&s_gated, "_gated"}, {&s_maxmemory, "maxmemory"}, {&s_deny_writes, "deny_writes"},
        {&s_aof, "aof"}, {&s_state, "state"}, {&s_write_hooks, "_write_hooks"},
        {&s_lookups, "lookups"}, {&s_command_stats, "command_stats"},
        {&s_observe_us, "_observe_us"}, {&s_error_stats, "error_stats"},
        {&s_record_long, "record_long"}, {&s_observe, "_observe"}, {&s_add, "add"},
        {&s_stats, "stats"}, {&s_tracking, "tracking"}, {&s_undelivered, "undelivered"},
        {&s_buffer, "buffer"}, {&s_held, "held"}, {&s_write, "write"},
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
