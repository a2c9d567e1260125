"""Signed-in users on a shared server, end to end (issue 22, SECURITY.md §7): a real OpenID Connect
provider on the loopback interface (oidc-provider-mock), a real `streamlit run` server configured
with it in a secrets.toml, and Debian's Chromium signing in as two users. Each sees only their own
runs; an admin sees all; a run label typed by one user (`[x](http://evil) <img src=x>`) shows as
literal text, neither a link nor an image."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from test_e2e import EXCEPTION_BOX, browser, free_port, require_chromium, settle, streamlit_server  # noqa: F401  # the browser fixture

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "[x](http://evil) <img src=x>"


@pytest.fixture(scope="module")
def provider():
    pytest.importorskip("oidc_provider_mock")
    from oidc_provider_mock import User, run_server_in_thread

    users = [User(sub=sub, claims={"email": f"{sub}@example.org", "name": sub.capitalize()}) for sub in ("alice", "bob", "carol")]
    with run_server_in_thread(port=0, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def signed_server(provider, default_lab, tmp_path_factory):
    require_chromium()
    home = tmp_path_factory.mktemp("signin-home")
    port = free_port()
    secrets = home / "secrets.toml"
    secrets.write_text(f"""[auth]
redirect_uri = "http://localhost:{port}/oauth2callback"
cookie_secret = "a-test-cookie-secret-that-is-long-enough-0123456789"
client_id = "leakage-dashboard"
client_secret = "test-client-secret"
server_metadata_url = "{provider}/.well-known/openid-configuration"

[leakage]
admins = ["carol@example.org"]
""")
    seed_runs(home)
    env = {**os.environ, "LEAKAGE_HOME": str(home), "LEAKAGE_LAB_DIR": str(default_lab.root), "OMP_WAIT_POLICY": "PASSIVE",
           "AUTHLIB_INSECURE_TRANSPORT": "1"}  # the test provider speaks http on loopback; a real one, https
    env.pop("LEAKAGE_DB_URL", None)
    # localhost, not 127.0.0.1: the provider redirects the browser back to the redirect_uri's host
    with streamlit_server(home, port, env, ("--secrets.files", str(secrets)), host="localhost") as url:
        yield {"url": url, "home": home}


def seed_runs(home: Path) -> None:
    """One run per user, stored as the pages store them (with the owner), and one from the command line."""
    from leakage.store import RunStore
    from test_store import synthetic_result

    with RunStore(f"sqlite:///{home / 'runs.sqlite'}") as store:
        store.save(synthetic_result(seed=1), label="alice's audit of model A", owner="alice@example.org")
        store.save(synthetic_result(seed=2), label="bob's audit of model B", owner="bob@example.org")
        store.save(synthetic_result(seed=3), label="a run from the command line")


def sign_in(browser, server: dict, user: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(server["url"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=user, exact=True).click()  # the provider's form: one button per test user
    page.wait_for_url(f"{server['url']}/**")
    page.get_by_text(f"Signed in as {user.capitalize()}").wait_for()
    settle(page)
    return context, page


def runs_listed(page, server: dict) -> str:
    """The Runs page's count line (the table itself is drawn on a canvas)."""
    page.goto(f"{server['url']}/runs")
    page.get_by_role("heading", name="Runs").wait_for()
    settle(page)
    page.locator("[data-testid='stDataFrame']").first.wait_for()
    return page.get_by_text("shown").first.inner_text()


def opens(page, server: dict, run_id: int) -> bool:
    """Whether the run opens by its link (another user's run is as missing)."""
    page.goto(f"{server['url']}/runs?run={run_id}")
    settle(page)
    missing = page.get_by_text(f"Run {run_id} does not exist (any more).")
    heading = page.get_by_role("heading", name=f"Run {run_id}", exact=False)
    missing.or_(heading).first.wait_for()
    return heading.count() > 0


def test_two_users_each_see_only_their_own_runs_and_labels_stay_text(browser, signed_server):
    # a visitor who has not signed in gets the sign-in screen and nothing else
    context = browser.new_context()
    anonymous = context.new_page()
    anonymous.goto(f"{signed_server['url']}/runs")
    anonymous.get_by_role("button", name="Sign in").wait_for()
    assert anonymous.get_by_role("heading", name="Runs").count() == 0
    context.close()

    context, alice = sign_in(browser, signed_server, "alice")
    assert runs_listed(alice, signed_server) == "1 run shown: your own"
    assert [opens(alice, signed_server, run_id) for run_id in (1, 2, 3)] == [True, False, False]
    # her run: label it with markdown and HTML
    opens(alice, signed_server, 1)
    alice.get_by_text("Label and notes").click()
    alice.get_by_label("Label").fill(HOSTILE)
    alice.get_by_role("button", name="Save").click()
    settle(alice)
    heading = alice.get_by_role("heading", name="Run 1", exact=False)
    heading.wait_for()
    assert HOSTILE in heading.inner_text()  # the label as typed, as text
    assert alice.locator("a[href='http://evil']").count() == 0 and alice.locator("img[src='x']").count() == 0
    assert alice.locator(EXCEPTION_BOX).count() == 0
    context.close()

    context, bob = sign_in(browser, signed_server, "bob")
    assert runs_listed(bob, signed_server) == "1 run shown: your own"
    assert [opens(bob, signed_server, run_id) for run_id in (1, 2, 3)] == [False, True, False]
    context.close()

    context, carol = sign_in(browser, signed_server, "carol")  # an admin: every run, the command line's too
    carol.get_by_text("admin: sees every run").wait_for()
    assert runs_listed(carol, signed_server) == "3 runs shown"
    assert [opens(carol, signed_server, run_id) for run_id in (1, 2, 3)] == [True, True, True]
    opens(carol, signed_server, 1)
    assert HOSTILE in carol.get_by_role("heading", name="Run 1", exact=False).inner_text()
    assert carol.locator("a[href='http://evil']").count() == 0 and carol.locator("img[src='x']").count() == 0
    assert carol.locator(EXCEPTION_BOX).count() == 0
    context.close()
