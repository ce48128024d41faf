"""Projects: list, edit, delete with a confirmation; user-provided names always shown as text."""
from __future__ import annotations

import uuid

import pytest

from .portal import expect

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"
FOOD = "c151d5b5-dd07-472a-acc8-15d29dea8518"
GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"
GENERAL_OD = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
LOGO_OD = "1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4"


def test_edit_and_delete_a_project(portal, setup, training_client):
    project, _ = setup.project("Editable")
    page = portal.sign_in().page
    card = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=project.name))
    expect(card).to_contain_text("Classification · Multiclass")
    expect(card).to_contain_text("General")
    expect(card).to_contain_text("Not published")
    card.get_by_role("button", name=f"Edit project {project.name}").click()
    dialog = page.get_by_role("dialog", name=f"Edit project {project.name}")
    dialog.get_by_label("Name").fill(project.name + " renamed")
    dialog.get_by_label("Description").fill("now compact")
    dialog.get_by_label("General (compact)", exact=True).check()
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    renamed = project.name + " renamed"
    expect(page.get_by_role("link", name=renamed)).to_be_visible()
    changed = training_client.get_project(project.id)
    assert (changed.name, changed.description, changed.settings.domain_id) == (renamed, "now compact", GENERAL_COMPACT)

    card = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=renamed))
    card.get_by_role("button", name=f"Delete project {renamed}").click()
    confirm = page.get_by_role("dialog", name=f"Delete project {renamed}?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("link", name=renamed)).to_be_visible()
    card.get_by_role("button", name=f"Delete project {renamed}").click()
    page.get_by_role("dialog", name=f"Delete project {renamed}?").get_by_role("button", name="Delete project").click()
    expect(page.get_by_role("link", name=renamed)).to_have_count(0)
    assert project.id not in [p.id for p in training_client.get_projects()]


def test_a_duplicate_project_name_gets_the_service_message(portal, setup):
    project, _ = setup.project("Taken")
    page = portal.sign_in().page
    page.get_by_role("button", name="New project").click()
    dialog = page.get_by_role("dialog", name="Create new project")
    dialog.get_by_label("Name").fill(project.name)
    dialog.get_by_role("button", name="Create project").click()
    expect(dialog.get_by_role("alert")).to_contain_text("BadRequestProjectNameNotUnique")


def test_names_with_markup_show_as_text(portal, setup, training_client):
    project, _ = setup.project("Markup")
    training_client.update_project(project.id, {"name": f"{project.name} <b>bold</b>", "description": XSS,
                                                "settings": {"domainId": FOOD}})
    page = portal.sign_in().page
    expect(page.get_by_text(f"{project.name} <b>bold</b>")).to_be_visible()
    expect(page.get_by_text(XSS)).to_be_visible()
    page.get_by_role("link", name=f"{project.name} <b>bold</b>").click()

    # a tag typed into the portal
    filters = page.get_by_role("complementary", name="Filter images")
    filters.get_by_label("New tag").fill(XSS)
    filters.get_by_role("button", name="Add tag").click()
    expect(filters.get_by_text(XSS, exact=True)).to_be_visible()
    expect(page.get_by_role("combobox", name="Tag")).to_contain_text(XSS)
    page.get_by_role("button", name="Add images").click()
    upload = page.get_by_role("dialog", name="Image upload")
    expect(upload.get_by_role("checkbox", name=XSS)).to_be_visible()
    upload.get_by_role("button", name="Close", exact=True).click()
    filters.get_by_role("button", name=f"Delete tag {XSS}").click()
    expect(page.get_by_role("dialog", name=f"Delete tag {XSS}?")).to_be_visible()
    page.keyboard.press("Escape")

    assert portal.dialogs == []  # no alert() ran
    assert page.locator('img[src="x"]').count() == 0  # and no element was made from the name
    assert page.locator("main b").count() == 0
    assert [t.name for t in training_client.get_tags(project.id)] == [XSS]


def test_an_object_detection_project_made_with_the_sdk_is_listed_and_edited_as_one(portal, training_client):
    """A project made with the SDK on an object detection domain shows its type and is edited on its own type's
    domains (test_detection.py creates one in the portal)."""
    project = training_client.create_project(f"Shelf audit {uuid.uuid4().hex[:6]}", domain_id=GENERAL_OD)
    page = portal.sign_in().page
    card = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=project.name))
    expect(card).to_contain_text("Object Detection")
    expect(card).to_contain_text("General")
    card.get_by_role("button", name=f"Edit project {project.name}").click()
    dialog = page.get_by_role("dialog", name=f"Edit project {project.name}")
    expect(dialog.get_by_label("Food")).to_have_count(0)  # no classification domain offered
    dialog.get_by_label("Logo", exact=True).check()
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()
    assert training_client.get_project(project.id).settings.domain_id == LOGO_OD
    training_client.delete_project(project.id)
