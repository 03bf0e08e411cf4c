"""Every error text the arbiter sends, spelled exactly as redis-server spells it.

Keeping them in one module means a differential test failure points at one line, and
nobody re-types a Redis message slightly differently in a command module.
"""


class CommandError(Exception):
    """Raised by a command or an argument parser: the client gets `message` as the reply.

    `Server.execute` catches it, drops whatever part of a reply the command had written,
    and writes the error, so parsers can be pure functions that return values.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Protocol errors: the connection is closed after the reply (Redis' CLIENT_CLOSE_AFTER_REPLY).
PROTO_INVALID_MULTIBULK = "ERR Protocol error: invalid multibulk length"
PROTO_UNAUTH_MULTIBULK = "ERR Protocol error: unauthenticated multibulk length"
PROTO_INVALID_BULK = "ERR Protocol error: invalid bulk length"
PROTO_UNAUTH_BULK = "ERR Protocol error: unauthenticated bulk length"
PROTO_EXPECTED_DOLLAR = "ERR Protocol error: expected '$', got '{}'"  # the byte as it came
PROTO_UNBALANCED_QUOTES = "ERR Protocol error: unbalanced quotes in request"
PROTO_BIG_INLINE = "ERR Protocol error: too big inline request"
PROTO_BIG_MBULK_COUNT = "ERR Protocol error: too big mbulk count string"
PROTO_BIG_BULK_COUNT = "ERR Protocol error: too big bulk count string"

# Command dispatch.
UNKNOWN_COMMAND = "ERR unknown command '{}', with args beginning with: {}"
WRONG_ARITY = "ERR wrong number of arguments for '{}' command"
UNKNOWN_SUBCOMMAND = "ERR unknown subcommand '{}'. Try {} HELP."
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NO_SUCH_PROCESS = "ERR no such process"
NOT_FLOAT = "ERR value is not a valid float"
INVALID_CURSOR = "ERR invalid cursor"
NO_SUCH_KEY = "ERR no such key"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
INCR_OVERFLOW = "ERR increment or decrement would overflow"
INCR_NAN = "ERR increment would produce NaN or Infinity"
DECR_OVERFLOW = "ERR decrement would overflow"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
OFFSET_OUT_OF_RANGE = "ERR offset is out of range"
VALUE_NAN_OR_INFINITY = "ERR value is NaN or Infinity"
VALUE_OUT_OF_RANGE = "ERR value is out of range"
VALUE_OUT_OF_RANGE_BETWEEN = "ERR value is out of range, value must between {} and {}"
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
DB_INDEX_OUT_OF_RANGE = "ERR DB index is out of range"
SELECT_NOT_INTEGER = "ERR value is not an integer or out of range"
SELECT_OUT_OF_RANGE = "ERR value is out of range, value must between -2147483648 and 2147483647"
SAME_OBJECT = "ERR source and destination objects are the same"
INVALID_FIRST_DB = "ERR invalid first DB index"
INVALID_SECOND_DB = "ERR invalid second DB index"

# Connection and authentication.
NOAUTH = "NOAUTH Authentication required."
NOAUTH_HELLO = (
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
    "the RESP protocol version at the same time"
)
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
AUTH_NO_PASSWORD = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
NOPROTO = "NOPROTO unsupported protocol version"
HELLO_SYNTAX = "ERR Syntax error in HELLO option '{}'"
PROTOCOL_VERSION_NOT_INTEGER = "ERR Protocol version is not an integer or out of range"
CLIENT_NAME_SPACES = "ERR Client names cannot contain spaces, newlines or special characters."
CLIENT_INFO_SPACES = "ERR {} cannot contain spaces, newlines or special characters."
CLIENT_SETINFO_ATTR = "ERR Unrecognized option '{}'"
MAX_CLIENTS = "ERR max number of clients reached"
SUBCOMMAND_SYNTAX = "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP."
REPLICA_KEYSPACE = "ERR Replica can't interact with the keyspace"
INVALID_CLIENT_ID = "ERR Invalid client ID"
UNKNOWN_CLIENT_TYPE = "ERR Unknown client type '{}'"
NO_SUCH_USER = "ERR No such user '{}'"
NO_SUCH_CLIENT = "ERR No such client"
CLIENT_ID_POSITIVE = "ERR client-id should be greater than 0"

# CLIENT TRACKING / CACHING and Pub/Sub.
TRACKING_ONE_REDIRECT = "ERR A client can only redirect to a single other client"
TRACKING_NO_REDIRECT_CLIENT = "ERR The client ID you want redirect to does not exist"
TRACKING_PREFIX_NEEDS_BCAST = "ERR PREFIX option requires BCAST mode to be enabled"
TRACKING_BCAST_SWITCH = ("ERR You can't switch BCAST mode on/off before disabling tracking "
                         "for this client, and then re-enabling it with a different mode.")
TRACKING_OPT_BCAST = "ERR OPTIN and OPTOUT are not compatible with BCAST"
TRACKING_OPTIN_AND_OPTOUT = "ERR You can't specify both OPTIN mode and OPTOUT mode"
TRACKING_OPT_SWITCH = ("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking "
                       "for this client, and then re-enabling it with a different mode.")
TRACKING_PREFIX_OVERLAPS_EXISTING = ("ERR Prefix '{}' overlaps with an existing prefix '{}'. "
                                     "Prefixes for a single client must not overlap.")
TRACKING_PREFIX_OVERLAPS_GIVEN = ("ERR Prefix '{}' overlaps with another provided prefix "
                                  "'{}'. Prefixes for a single client must not overlap.")
CACHING_NOT_TRACKING = ("ERR CLIENT CACHING can be called only when the client is in "
                        "tracking mode with OPTIN or OPTOUT mode enabled")
CACHING_YES_NOT_OPTIN = ("ERR CLIENT CACHING YES is only valid when tracking is enabled in "
                         "OPTIN mode.")
CACHING_NO_NOT_OPTOUT = ("ERR CLIENT CACHING NO is only valid when tracking is enabled in "
                         "OPTOUT mode.")
SUBSCRIBED_CONTEXT = ("ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                      "PING / QUIT / RESET are allowed in this context")
MAXAGE_NOT_INTEGER = "ERR maxage is not an integer or out of range"
MAXAGE_POSITIVE = "ERR maxage should be greater than 0"
PAUSE_MODE = "ERR CLIENT PAUSE mode must be WRITE or ALL"
TIMEOUT_NOT_INTEGER = "ERR timeout is not an integer or out of range"

# Configuration.
CONFIG_UNKNOWN_OPTION = "ERR Unknown option or number of arguments for CONFIG SET - '{}'"
CONFIG_SET_FAILED = "ERR CONFIG SET failed (possibly related to argument '{}') - {}"
CONFIG_IMMUTABLE = "can't set immutable config"
CONFIG_DUPLICATE = "duplicate parameter"
CONFIG_MAXCLIENTS_OS = (
    "The operating system is not able to handle the specified number of clients, try "
    "with {}"
)
CONFIG_NO_FILE = "ERR The server is running without a config file"
CONFIG_REWRITE_FAILED = "ERR Rewriting config file: {}"

OBJECT_FREQ_NOT_LFU = (
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please "
    "note that when switching between policies at runtime LRU and LFU data will take "
    "some time to adjust."
)
OBJECT_IDLETIME_LFU = (
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that "
    "when switching between policies at runtime LRU and LFU data will take some time to "
    "adjust."
)

# Memory.
OOM = "OOM command not allowed when used memory > 'maxmemory'."

SLOWLOG_COUNT = "ERR count should be greater than or equal to -1"
MONITOR_DENY_BLOCKING = "ERR MONITOR isn't allowed for DENY BLOCKING client"

# Transactions.
MULTI_NESTED = "ERR MULTI calls can not be nested"
EXEC_WITHOUT_MULTI = "ERR EXEC without MULTI"
DISCARD_WITHOUT_MULTI = "ERR DISCARD without MULTI"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
EXECABORT_BECAUSE = "EXECABORT Transaction discarded because of: {}"  # a refused EXEC
WATCH_IN_MULTI = "ERR WATCH inside MULTI is not allowed"

# Expiry.
EXPIRE_NX_CONFLICT = "ERR NX and XX, GT or LT options at the same time are not compatible"
EXPIRE_GT_LT_CONFLICT = "ERR GT and LT options at the same time are not compatible"
EXPIRE_UNSUPPORTED_OPTION = "ERR Unsupported option {}"
EXPIRE_INVALID_TIME = "ERR invalid expire time in '{}' command"

# Hash field expiry (Redis 7.4/8.0).
HFE_FIELDS_MISSING = "ERR Mandatory argument FIELDS is missing or not at the right position"
HFE_NUMFIELDS_POSITIVE = "ERR Parameter `numFields` should be greater than 0"
HFE_NUMFIELDS_INTEGER = "ERR Number of fields must be a positive integer"
HFE_NUMFIELDS_MISMATCH = "ERR The `numfields` parameter must match the number of arguments"
HFE_NEGATIVE_TIME = "ERR invalid expire time, must be >= 0"
HSETEX_BAD_NUMFIELDS = "ERR invalid number of fields"
HSETEX_ONE_EXPIRY = "ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified"
HSETEX_ONE_CONDITION = "ERR Only one of FXX or FNX arguments can be specified"
HSETEX_MISSING_TIME = "ERR missing expire time"
HSETEX_UNKNOWN_ARGUMENT = "ERR unknown argument: {}"

# Persistence.
MISCONF_AOF = "MISCONF Errors writing to the AOF file: {}"
AOF_REWRITE_IN_PROGRESS = "ERR Background append only file rewriting already in progress"
AOF_REWRITE_FAILED = ("ERR Can't execute an AOF background rewriting. Please check the "
                      "server logs for more information.")
BGSAVE_IN_PROGRESS = "ERR Background save already in progress"
BGSAVE_CHILD_ACTIVE = ("ERR Another child process is active (AOF?): can't BGSAVE right "
                       "now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever "
                       "possible.")
SAVE_FAILED = "ERR"
NOT_IN_TRANSACTION = "ERR Command not allowed inside a transaction"
AOF_CANT_TURN_ON = "Unable to turn on AOF. Check server logs."
AOF_DIRECTORY_LOCKED = ("Another process holds the append-only directory %s (another arbiter "
                        "running on it?): two servers must never append to one file set")
CONFIG_PROTECTED = "can't set protected config"

# The arbiter's own.
INTERNAL_ERROR = "ERR internal error in '{}' (the arbiter's log has the details)"
HRANDFIELD_REPLY_LIMIT = ("ERR value is out of range, the arbiter's reply to a negative count "
                          "holds at most {} fields and {} bytes")
