"""Lists the globals a pickle stream names without executing any of it (pickletools only decodes opcodes)."""
import pickletools
from typing import BinaryIO, Optional

_STRING_OPS = {'SHORT_BINUNICODE', 'BINUNICODE', 'BINUNICODE8', 'UNICODE', 'STRING', 'BINSTRING', 'SHORT_BINSTRING'}
_PUT_OPS = {'PUT', 'BINPUT', 'LONG_BINPUT'}
_GET_OPS = {'GET', 'BINGET', 'LONG_BINGET'}
_NO_PUSH_OPS = {'PROTO', 'FRAME', 'MARK', 'STOP', 'POP', 'POP_MARK', 'MEMOIZE'} | _PUT_OPS

# A global the scan cannot name statically (STACK_GLOBAL over computed strings); the restricted unpickler still
# checks it when it is resolved.
UNKNOWN = ('?', '?')


def scan_globals(stream: BinaryIO) -> list[tuple[str, str]]:
    """Reads one pickle (up to its STOP opcode) from stream and returns its (module, name) globals in order."""
    pushed: list[Optional[str]] = []
    memo: dict[int, Optional[str]] = {}
    found: list[tuple[str, str]] = []

    for opcode, arg, _ in pickletools.genops(stream):
        op = opcode.name
        if op in ('GLOBAL', 'INST'):
            module, name = str(arg).split(' ', 1)
            found.append((module, name))
        elif op == 'STACK_GLOBAL':
            found.append(_stack_global(pushed))
        elif op == 'MEMOIZE':
            memo[len(memo)] = pushed[-1] if pushed else None
        elif op in _PUT_OPS:
            memo[int(arg)] = pushed[-1] if pushed else None
        elif op in _GET_OPS:
            pushed.append(memo.get(int(arg)))
        if op in _STRING_OPS:
            pushed.append(arg if isinstance(arg, str) else None)
        elif op not in _NO_PUSH_OPS and op not in _GET_OPS:
            pushed.append(None)
    return found


def _stack_global(pushed: list[Optional[str]]) -> tuple[str, str]:
    if len(pushed) < 2 or pushed[-2] is None or pushed[-1] is None:
        return UNKNOWN
    return (str(pushed[-2]), str(pushed[-1]))
