"""Signing in: a wrong key gets the service's clear refusal and shows nothing; the key stays out of URLs, pages
and logs; the portal is usable from the keyboard."""
from __future__ import annotations

import pytest

from .portal import expect

pytestmark = pytest.mark.browser


def test_wrong_key_shows_the_refusal_and_nothing_else(portal, setup):
    project, _ = setup.project("Secret project")
    page = portal.page
    portal.sign_in(key="not-the-training-key-0000")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Access denied due to invalid key")
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_have_count(0)
    expect(page.get_by_text(project.name)).to_have_count(0)
    assert page.evaluate("sessionStorage.length") == 0
    expect(page.get_by_label("Training key")).to_be_visible()
    portal.screenshot("sign-in-refused")


def test_a_prediction_key_is_refused_for_training(portal):
    portal.sign_in(key=portal.service.prediction_key)
    expect(portal.page.get_by_role("alert")).to_contain_text("a prediction key cannot call training operations")
    assert portal.page.evaluate("sessionStorage.length") == 0


def test_an_empty_key_says_what_to_do_and_sends_nothing(portal):
    portal.open()
    page = portal.page
    page.get_by_role("button", name="Sign in").click()  # empty: the browser's required-field check stops it
    page.get_by_label("Training key").fill("   ")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Enter the training key.")
    assert not [u for u in portal.request_urls if "/customvision/" in u]


def test_the_key_stays_in_this_tab_and_out_of_urls_pages_and_logs(portal, setup):
    setup.project("Keyed project")
    page, key = portal.page, portal.service.training_key
    portal.sign_in()
    expect(page.get_by_role("listitem").filter(has_text="Keyed project")).to_be_visible()
    page.reload()  # sessionStorage survives a reload of the tab
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('cvlocal.portal.trainingKey')") == key
    assert page.evaluate("document.cookie") == "" and page.evaluate("localStorage.length") == 0
    assert not [u for u in portal.request_urls if key in u]
    assert key not in page.content()
    assert key not in portal.service.log()
    other_tab = portal.context.browser.new_context().new_page()  # another session: not signed in
    other_tab.goto(portal.url)
    expect(other_tab.get_by_label("Training key")).to_be_visible()
    other_tab.context.close()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Training key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_keyboard_only_sign_in_and_create_a_project(portal, training_client):
    page = portal.page
    portal.open()
    expect(page.get_by_label("Training key")).to_be_focused()
    page.keyboard.type(portal.service.training_key)
    page.keyboard.press("Enter")
    new_project = page.get_by_role("button", name="New project")
    expect(new_project).to_be_visible()
    for _ in range(12):  # reachable with Tab alone
        page.keyboard.press("Tab")
        if new_project.evaluate("el => el === document.activeElement"):
            break
    expect(new_project).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create new project")
    expect(dialog.get_by_label("Name")).to_be_focused()
    page.keyboard.type("Typed project")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Typed project", level=1)).to_be_visible()
    assert any(p.name == "Typed project" for p in training_client.get_projects())
    page.get_by_role("button", name="Train").focus()
    page.keyboard.press("Enter")
    train = page.get_by_role("dialog", name="Train Typed project")
    expect(train).to_be_visible()
    page.keyboard.press("Escape")  # a native modal dialog: Escape closes it
    expect(train).to_be_hidden()


def test_a_key_refused_later_signs_out_with_the_reason(portal):
    page = portal.sign_in().page
    portal.settle()  # the projects list has loaded: nothing in flight reads the key any more
    page.evaluate("sessionStorage.setItem('cvlocal.portal.trainingKey', 'a-rotated-key-0000000000')")
    page.reload()
    expect(page.get_by_role("alert")).to_have_text("The service refused the training key (401). Sign in again.")
    expect(page.get_by_label("Training key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
