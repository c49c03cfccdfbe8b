"""Password rules and hashing: a minimum strength for new passwords, constant-time sign-in checks."""
from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

from models.errors import InvalidParameter

MIN_LENGTH = 10
MAX_LENGTH = 200
# Passwords of ten or more characters that appear near the top of leaked-password lists (including
# the Chinese ones); a guesser tries these first, so they are refused whatever their length.
COMMON_PASSWORDS = frozenset("""
1234567890 0123456789 0987654321 1111111111 0000000000 1234512345 1122334455 1314520520 5201314520
a123456789 a1234567890 aa12345678 abc1234567 abcd123456 abcd1234567 qq123456789 qq1234567890
password12 password123 password1234 passw0rd12 p@ssw0rd12 p@ssword123 admin12345 admin123456
administrator adminadmin qwertyuiop qwerty1234 qwerty12345 1qaz2wsx3edc 1q2w3e4r5t 1q2w3e4r5t6y
qazwsxedcrfv zaq12wsxcde iloveyou12 iloveyou123 woaini1314 woaini520520 woaini123456 wangyang123
zhang123456 li123456789 abc123456789 1234qwerasdf asdfghjkl1 asdfghjkl123 zxcvbnm123 welcome123
letmein123 changeme123 sunshine12 princess12 football12 baseball12 dragon1234 monkey12345 master1234
shanghai123 beijing123 guangzhou123 china12345 china123456 ciie123456 ciie2025ciie
""".split())


def check_strength(password: str, username: str = "") -> None:
    """Refuse a weak password with a readable reason (length, the username, a common password)."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        raise InvalidParameter(f"密码至少 {MIN_LENGTH} 位", field="password")
    if len(password) > MAX_LENGTH:
        raise InvalidParameter(f"密码不能超过 {MAX_LENGTH} 位", field="password")
    folded, name = password.casefold(), (username or "").strip().casefold()
    if name and (folded == name or name in folded and len(folded) - len(name) < 4):
        raise InvalidParameter("密码不能与用户名相同或仅在用户名前后加几个字符", field="password")
    if folded in COMMON_PASSWORDS or len(set(folded)) <= 2:
        raise InvalidParameter("密码过于常见，请换一个不易猜到的密码", field="password")


HASH_METHOD = "scrypt"  # werkzeug's default; the test suite swaps in a cheap method for speed
_dummy_hashes: dict[str, str] = {}


def hash_password(password: str) -> str:
    """A hash of the password with HASH_METHOD."""
    return generate_password_hash(password, method=HASH_METHOD)


def _dummy_hash() -> str:
    """A hash of the current method, verified for unknown users so they take as long as a wrong password."""
    if HASH_METHOD not in _dummy_hashes:
        _dummy_hashes[HASH_METHOD] = generate_password_hash("delegation-desk-dummy", method=HASH_METHOD)
    return _dummy_hashes[HASH_METHOD]


def verify(password_hash: str | None, password: str) -> bool:
    """True when the password matches; always spends one hash verification."""
    if not password_hash:
        check_password_hash(_dummy_hash(), password or "")
        return False
    return check_password_hash(password_hash, password or "")


def normalise_username(username: str | None) -> str:
    """Usernames are compared trimmed and case-folded, for lookup and for throttling alike."""
    return (username or "").strip().casefold()
