"""add-user and the pool's password policy: the refusal states the policy and leaves no half-created user;
local_aws applies the policy as Cognito does; every example password in the demo and config meets it."""

import re

import pytest

from conftest import ROOT
from test_provisioning import admin, unique_name, user_pool  # noqa: F401 (user_pool is a fixture)

DEFAULT_POLICY = {"MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True,
                  "RequireSymbols": True}
GOOD = "Corr3ct-Horse-Battery!"


def user_exists(idp, pool, username):
    try:
        idp.admin_get_user(UserPoolId=pool, Username=username)
    except idp.exceptions.UserNotFoundException:
        return False
    return True


def test_a_refused_password_states_the_pools_policy_and_leaves_no_user(local_aws, admin_client, tmp_path, user_pool):
    idp = admin_client("cognito-idp")
    result = admin(["add-user", "frank"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": "a-strong-passw0rd!"})
    assert result.returncode == 4, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "at least 8 characters" in result.stderr and "upper-case letter" in result.stderr, result.stderr
    assert "a-strong-passw0rd!" not in result.stderr
    assert not user_exists(idp, user_pool, "frank")


def test_a_password_refused_after_the_user_was_created_deletes_that_user(local_aws, admin_client, tmp_path, user_pool,
                                                                        faults):
    idp = admin_client("cognito-idp")
    # A pool may refuse at AdminSetUserPassword what it let through at AdminCreateUser (say, a policy changed
    # in between): the user the tool just created must not stay behind in FORCE_CHANGE_PASSWORD.
    faults.add("AdminSetUserPassword", times=1, status=400, code="InvalidPasswordException",
               message="Password did not conform with policy: Password must have symbol characters")
    result = admin(["add-user", "gina"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": GOOD})
    assert result.returncode == 4, result.stderr
    assert "symbol" in result.stderr and "nothing was created" in result.stderr, result.stderr
    assert not user_exists(idp, user_pool, "gina")


def test_a_refused_password_for_an_existing_unconfirmed_user_leaves_that_user(local_aws, admin_client, tmp_path,
                                                                             user_pool):
    idp = admin_client("cognito-idp")
    idp.admin_create_user(UserPoolId=user_pool, Username="hank", TemporaryPassword=GOOD, MessageAction="SUPPRESS")
    result = admin(["add-user", "hank"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": "short"})
    assert result.returncode == 4 and "at least 8 characters" in result.stderr, result.stderr
    assert idp.admin_get_user(UserPoolId=user_pool, Username="hank")["UserStatus"] == "FORCE_CHANGE_PASSWORD"


@pytest.mark.parametrize("password, problem", [
    ("a-strong-passw0rd!", "Password must have uppercase characters"),
    ("A-STRONG-PASSW0RD!", "Password must have lowercase characters"),
    ("A-strong-password!", "Password must have numeric characters"),
    ("Astrongpassw0rd", "Password must have symbol characters"),
    ("Ab1!", "Password not long enough"),
])
def test_local_aws_applies_the_default_password_policy_as_cognito_does(admin_client, password, problem):
    idp = admin_client("cognito-idp")
    pool = idp.create_user_pool(PoolName=unique_name())["UserPool"]["Id"]
    assert idp.describe_user_pool(UserPoolId=pool)["UserPool"]["Policies"]["PasswordPolicy"].items() >= \
        DEFAULT_POLICY.items()
    with pytest.raises(idp.exceptions.InvalidPasswordException) as at_create:
        idp.admin_create_user(UserPoolId=pool, Username="u1", TemporaryPassword=password, MessageAction="SUPPRESS")
    idp.admin_create_user(UserPoolId=pool, Username="u2", MessageAction="SUPPRESS")
    with pytest.raises(idp.exceptions.InvalidPasswordException) as at_set:
        idp.admin_set_user_password(UserPoolId=pool, Username="u2", Password=password, Permanent=True)
    for refused in (at_create, at_set):
        assert refused.value.response["Error"]["Message"] == f"Password did not conform with policy: {problem}"
    assert not user_exists(idp, pool, "u1")
    idp.admin_set_user_password(UserPoolId=pool, Username="u2", Password="Inner space 1", Permanent=True)


def test_local_aws_applies_a_relaxed_policy(admin_client):
    idp = admin_client("cognito-idp")
    pool = idp.create_user_pool(PoolName=unique_name(), Policies={"PasswordPolicy": {
        "MinimumLength": 6, "RequireUppercase": False, "RequireLowercase": True, "RequireNumbers": False,
        "RequireSymbols": False}})["UserPool"]["Id"]
    idp.admin_create_user(UserPoolId=pool, Username="u", TemporaryPassword="simple", MessageAction="SUPPRESS")
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        idp.admin_set_user_password(UserPoolId=pool, Username="u", Password="short", Permanent=True)


def meets_default_policy(password):
    return (len(password) >= 8 and re.search("[A-Z]", password) and re.search("[a-z]", password)
            and re.search("[0-9]", password) and re.search(r"""[\^$*.\[\]{}()?"!@#%&/\\,><':;|_~`=+-]""", password))


@pytest.mark.parametrize("relative", ["README.md", "config.example.ini", "tests/conftest.py",
                                      *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_every_example_password_meets_the_default_policy(relative):
    text = (ROOT / relative).read_text()
    examples = re.findall(r"(?im)^[;# \t]*password[ \t]*=[ \t]*(\S+)", text)  # INI, commented out or not
    examples += [value for _, value in re.findall(r"""PASSWORD=(['"])([^'"$]+)\1""", text)]  # shell
    examples += re.findall(r"""['"]([^'"\s]*[Pp]assw0rd[^'"\s]*)['"]""", text)  # literals
    assert examples or relative not in ("README.md", "tests/conftest.py")  # these two surely show some
    assert all(meets_default_policy(p) for p in examples), examples
