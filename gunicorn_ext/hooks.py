"""The gunicorn side: `enable_stash` puts the arbiter's start, watch and stop in the
master's hooks.

`enable_stash` adds gunicorn server hooks to the config's namespace, each chained with
the hook of the same name the file already defines (that one still runs; for `on_exit`
it runs first, while the arbiter is still up). The master starts the arbiter before any
worker exists and publishes its URL in `GUNICORN_STASH_URL`. When that variable is
already set as gunicorn starts, no arbiter is started and the stash uses that server.

The arbiter's interpreter is started as gunicorn reads the config file (`Prestarted`),
so that it imports its modules while gunicorn finishes its own start; the first hook
(`nworkers_changed`, as the master's `Arbiter` is made) gives it its socket and waits
for its answer.

Nothing here imports redis-py (see `wire`): the master stays free of `redis.asyncio`.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from .options import stash_options
from .supervisor import (
    DIRECTORY_ENV,
    OWNER_ENV,
    ArbiterSupervisor,
    Owner,
    Prestarted,
    check_server,
    redact,
)
from .wire import CLIENT_CACHE_ENV, URL_ENV

__all__ = ["URL_ENV", "enable_stash", "supervisor_for"]

_HOOK_MARK = "_gunicorn_ext_hook"
_USER_HOOK = "_gunicorn_ext_user_hook"

# Survives HUP, which executes the config file again as a fresh module.
_supervisor: ArbiterSupervisor | None = None
_started_in: int | None = None
#: The arbiter started as gunicorn read the config file, until the master configures it.
_prestarted: Prestarted | None = None
# gunicorn's methods that read the config file (gunicorn.app.base, 21.2 to 27).
_CONFIG_READERS = frozenset(("load_config_from_module_name_or_filename",
                             "load_config_from_file"))


def supervisor_for() -> ArbiterSupervisor | None:
    """This master's arbiter supervisor (None if no arbiter was started here)."""
    return _supervisor if _started_in == os.getpid() else None


def enable_stash(namespace: MutableMapping[str, Any], **options: Any) -> None:
    """Run the stash arbiter with this gunicorn; call it from the config file with globals().

    The options are `StashOptions`' fields. A value the arbiter would refuse raises
    ValueError or TypeError now, as gunicorn reads the file; so does an unknown option,
    naming the nearest known one.
    """
    settings = stash_options(options)
    if _read_by_gunicorn():
        _prestart(settings)

    def start(server: Any) -> None:
        _start(server, settings)

    def nworkers_changed(server: Any, new_value: int, old_value: int | None) -> None:
        start(server)

    def on_starting(server: Any) -> None:
        start(server)

    def when_ready(server: Any) -> None:
        start(server)

    def pre_exec(server: Any) -> None:
        _hand_over(server)

    def on_exit(server: Any) -> None:
        supervisor = supervisor_for()
        if supervisor is not None:
            supervisor.stop()

    _chain(namespace, "nworkers_changed", nworkers_changed, ours_first=True)
    _chain(namespace, "on_starting", on_starting, ours_first=True)
    _chain(namespace, "when_ready", when_ready, ours_first=True)
    _chain(namespace, "pre_exec", pre_exec, ours_first=True)
    _chain(namespace, "on_exit", on_exit, ours_first=False)


def _chain(namespace: MutableMapping[str, Any], name: str, ours: Callable[..., None],
           ours_first: bool) -> None:
    """Install `ours` as hook `name`, keeping (and calling) the hook already there."""
    theirs = namespace.get(name)
    if getattr(theirs, _HOOK_MARK, False):
        theirs = getattr(theirs, _USER_HOOK)
    if theirs is None:
        hook = ours
    elif ours_first:
        @functools.wraps(ours)
        def hook(*args: Any) -> None:
            ours(*args)
            _resolve(theirs)(*args)
    else:
        @functools.wraps(ours)
        def hook(*args: Any) -> None:
            try:
                _resolve(theirs)(*args)
            finally:
                ours(*args)
    # functools.wraps gives the chain the signature of `ours`, whose arity gunicorn checks.
    setattr(hook, _HOOK_MARK, True)
    setattr(hook, _USER_HOOK, theirs)
    namespace[name] = hook


def _resolve(hook: Any) -> Callable[..., Any]:
    """A hook given as "module.function", as gunicorn allows, or the callable itself."""
    if isinstance(hook, str):
        module, _, attribute = hook.rpartition(".")
        return getattr(importlib.import_module(module), attribute)
    return hook


def _read_by_gunicorn() -> bool:
    """Whether gunicorn is reading the config file that calls `enable_stash` (and not a
    test or a tool that runs it to see its settings)."""
    frame = sys._getframe(1)
    while frame is not None:
        if (frame.f_code.co_name in _CONFIG_READERS
                and frame.f_globals.get("__name__") == "gunicorn.app.base"):
            return True
        frame = frame.f_back
    return False


def _sources(options: Any) -> tuple[str | None, str | None, str | None]:
    """Where the stash server comes from, as the environment and the options say: the
    URL of a server not ours (or None), and the URL and master of an arbiter that a USR2
    upgrade hands over (or None, None); neither: this master starts its own."""
    inherited_url = os.environ.get(URL_ENV)
    owner = os.environ.get(OWNER_ENV)
    external = (inherited_url if owner is None else None) or options.url
    if external:
        return external, None, None
    if (inherited_url is not None and owner is not None
            and os.environ.get("GUNICORN_PID") == owner):
        return None, inherited_url, owner
    return None, None, None


def _prestart(options: Any) -> None:
    """As gunicorn reads the config file: start the interpreter of the arbiter this
    master will start (not when it adopts one or uses another server)."""
    global _prestarted
    pid = os.getpid()
    if _started_in == pid or (_prestarted is not None and _prestarted.master_pid == pid):
        return  # (HUP reads the file again)
    if _sources(options) == (None, None, None):
        _prestarted = Prestarted(options)


def _start(server: Any, options: Any) -> None:
    """Start (once per master) the arbiter, adopt the one the master before a USR2 upgrade
    hands over, or use the server the environment names."""
    global _supervisor, _started_in, _prestarted
    pid = os.getpid()
    if _started_in == pid:
        return
    _started_in = pid
    log = server.log
    if options.client_cache:
        os.environ[CLIENT_CACHE_ENV] = "1"
    else:
        os.environ.pop(CLIENT_CACHE_ENV, None)
    inherited_url = os.environ.get(URL_ENV)
    owner = Owner.of(server)
    external, handed_url, handing_master = _sources(options)
    prestarted, _prestarted = _prestarted, None
    if prestarted is not None and (external or handed_url is not None
                                   or not prestarted.fits(owner)):
        prestarted.discard()
        prestarted = None
    if external:
        os.environ[URL_ENV] = external
        os.environ.pop(OWNER_ENV, None)
        log.info("Stash: using the server at %s (no arbiter started)", redact(external))
        source = URL_ENV if external == inherited_url else "enable_stash(url=...)"
        check_server(external, source, options.tables, log)
        return
    if handed_url is not None and handing_master is not None:
        _supervisor = ArbiterSupervisor(options, log, urlsplit(handed_url).path, owner,
                                        directory=os.environ.get(DIRECTORY_ENV) or None)
        _supervisor.url = handed_url  # (the password the running arbiter has)
        if not _supervisor.adopt(int(handing_master)):
            log.warning("Stash: the arbiter of master %s no longer answers at %s; "
                        "starting one", handing_master, _supervisor.socket_path)
            _supervisor.start()
    else:
        _supervisor = ArbiterSupervisor(options, log, options.socket_path, owner)
        _supervisor.start(prestarted)
    _publish(os.environ, _supervisor, pid)
    _watch_master(server, _supervisor)


def _publish(environment: MutableMapping[str, str], supervisor: ArbiterSupervisor,
             master: int) -> None:
    """Name the arbiter in `environment`: its URL, the master that owns it, and its
    private directory (for the last owner to remove)."""
    environment[URL_ENV] = supervisor.url
    environment[OWNER_ENV] = str(master)
    if supervisor.directory is None:
        environment.pop(DIRECTORY_ENV, None)
    else:
        environment[DIRECTORY_ENV] = supervisor.directory


def _hand_over(server: Any) -> None:
    """In the child a USR2 forks, just before it executes the new master: give it the
    arbiter's URL. gunicorn executes it with the environment it saved at start
    (`cfg.env_orig`), not the current one, so the URL goes there."""
    supervisor = _supervisor
    if supervisor is None or _started_in != os.getppid():
        return
    _publish(server.cfg.env_orig, supervisor, _started_in)


def _watch_master(server: Any, supervisor: ArbiterSupervisor) -> None:
    """Run `supervisor.check()` each time the master's loop manages its workers, and
    `supervisor.claim_exit()` each time before it reaps children with `waitpid(-1)`."""
    _run_before(server, "reap_workers", supervisor.claim_exit)
    _run_before(server, "manage_workers", supervisor.check)


def _run_before(server: Any, method: str, first: Callable[[], None]) -> None:
    """Wrap `server.<method>` on this instance so that `first()` runs before it."""
    original = getattr(server, method)
    if getattr(original, _HOOK_MARK, False):
        return

    def wrapped() -> Any:
        first()
        return original()

    setattr(wrapped, _HOOK_MARK, True)
    setattr(server, method, wrapped)
