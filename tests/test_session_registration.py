"""Defining a session class registers it: names, permissions, groups, checks, the registry.

Pure unit tests: classes are defined inside the tests and forgotten again by
the ``forget_new_sessions`` fixture.
"""

from __future__ import annotations

import pytest
from wtforms import Form, StringField

import tests.sample_sessions  # noqa: F401  (registers EchoSession & co. for the duplicate tests)
from sessions import (
    REGISTRY,
    CommandChainSession,
    CommandForm,
    CommandFormSession,
    Session,
    SessionChain,
    SessionGroup,
    SessionRegistrationError,
    SingleCommandSession,
    UnknownSession,
)
from sessions.registry import group_name
from webapp.models import Host


@pytest.fixture(autouse=True)
def forget_new_sessions():
    """Remove every session class a test registered (``REGISTRY.remove``)."""
    before = {cls.__name__ for cls in REGISTRY}
    yield
    for name in {cls.__name__ for cls in REGISTRY} - before:
        REGISTRY.remove(name)


class Site:
    """A minke model other than Host, as far as registration can tell (it has HOST_LOOKUP)."""

    HOST_LOOKUP = "server.host"


class FakeUser:
    def __init__(self, *permissions: str) -> None:
        self.permissions = set(permissions)

    def has_permissions(self, permissions) -> bool:
        return set(permissions) <= self.permissions


# -- registration -----------------------------------------------------------------------


def test_a_session_class_is_registered_under_its_class_name():
    class CleanTmpSession(Session):
        work_on = ("Host",)

    assert "CleanTmpSession" in REGISTRY
    assert REGISTRY.get("CleanTmpSession") is CleanTmpSession


def test_work_on_may_name_models_by_class_or_by_name():
    class ByClass(Session):
        work_on = (Host, Site)

    assert ByClass.work_on_names() == ("Host", "Site")
    assert REGISTRY.get("ByClass") is ByClass


def test_an_abstract_session_is_not_registered():
    class BaseMaintenance(Session):
        abstract = True
        work_on = ("Host",)

    assert "BaseMaintenance" not in REGISTRY
    with pytest.raises(UnknownSession):
        REGISTRY.get("BaseMaintenance")


def test_abstract_is_not_inherited_a_subclass_is_registered():
    class BaseMaintenance(Session):
        abstract = True
        work_on = ("Host",)

    class Reboot(BaseMaintenance):
        pass

    assert Reboot.abstract is False
    assert "BaseMaintenance" not in REGISTRY
    assert REGISTRY.get("Reboot") is Reboot


def test_the_ready_made_variants_are_abstract():
    for cls in (Session, SingleCommandSession, CommandFormSession, CommandChainSession,
                SessionChain):
        assert cls.abstract is True
        assert cls.__name__ not in REGISTRY


def test_an_abstract_session_registers_by_calling_register():
    class Manual(Session):
        abstract = True
        work_on = ("Host",)

    Manual.register()

    assert REGISTRY.get("Manual") is Manual
    assert Manual.verbose_name == "manual"
    assert Manual.permissions == ()  # register() adds no permission


def test_add_permission_gives_an_abstract_session_its_run_permission():
    class Manual(Session):
        abstract = True
        work_on = ("Host",)

    Manual.add_permission()
    Manual.add_permission()  # idempotent

    assert Manual.permissions == ("minke.run_manual",)


def test_register_still_checks_an_abstract_session():
    class Manual(Session):
        abstract = True

    with pytest.raises(SessionRegistrationError, match="Manual"):
        Manual.register()
    assert "Manual" not in REGISTRY


def test_registering_a_registered_class_again_is_refused_but_a_module_imported_again_works():
    class Again(Session):
        work_on = ("Host",)

    with pytest.raises(SessionRegistrationError, match="already registered"):
        Again.register()  # as django-minke refuses it
    assert REGISTRY.get("Again") is Again

    # a module imported a second time (or reloaded) defines its classes again: the same
    # module and name, a new class, which replaces the old one
    class Again(Session):  # noqa: F811
        work_on = ("Host",)

    assert REGISTRY.get("Again") is Again


# -- verbose_name and group ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "verbose"), [
    ("MyDrupalSession", "my drupal session"),
    ("Uptime", "uptime"),
    ("HTTPCheckSession", "http check session"),
    ("Backup2Disk", "backup2 disk"),
])
def test_verbose_name_defaults_to_the_class_name_in_words(name, verbose):
    cls = type(name, (Session,), {"work_on": ("Host",), "__module__": __name__})

    assert cls.verbose_name == verbose


def test_an_explicit_verbose_name_is_kept():
    class Named(Session):
        verbose_name = "Clear the cache"
        work_on = ("Host",)

    assert Named.verbose_name == "Clear the cache"


def test_session_group_decorator_sets_the_group_instance_as_in_django_minke():
    maintenance = SessionGroup("Maintenance")

    @maintenance
    class Reboot(Session):
        work_on = ("Host",)

    assert Reboot.group is maintenance
    assert Reboot.group.name == "Maintenance"
    assert group_name(Reboot) == "Maintenance"
    assert Session.group is None
    assert REGISTRY.get("Reboot") is Reboot


def test_a_plain_string_group_is_its_own_name():
    class Reboot(Session):
        work_on = ("Host",)
        group = "Dangerous"

    class Ungrouped(Session):
        work_on = ("Host",)

    assert group_name(Reboot) == "Dangerous"
    assert group_name(Ungrouped) is None


# -- permissions ------------------------------------------------------------------------


def test_auto_permission_adds_the_sessions_run_permission():
    class ClearCache(Session):
        work_on = ("Host",)

    assert ClearCache.permissions == ("minke.run_clearcache",)
    assert ClearCache.permission_name() == "minke.run_clearcache"


def test_auto_permission_keeps_the_declared_permissions():
    class ClearCache(Session):
        work_on = ("Host",)
        permissions = ("minke.view_host",)

    assert ClearCache.permissions == ("minke.view_host", "minke.run_clearcache")


def test_auto_permission_false_adds_no_permission():
    class Harmless(Session):
        work_on = ("Host",)
        auto_permission = False

    assert Harmless.permissions == ()
    assert "Harmless" in REGISTRY


def test_registering_sessions_leaves_the_base_classes_permissions_alone():
    class First(Session):
        work_on = ("Host",)

    assert Session.permissions == ()
    assert SingleCommandSession.permissions == ()


# -- registration errors ------------------------------------------------------------------


def test_a_name_taken_by_a_session_of_another_module_is_refused():
    original = REGISTRY.get("EchoSession")

    with pytest.raises(SessionRegistrationError) as raised:
        class EchoSession(Session):
            work_on = ("Host",)

    message = str(raised.value)
    assert message.startswith(f"{__name__}.EchoSession:")
    assert "tests.sample_sessions.EchoSession" in message
    assert raised.value.session_cls.__name__ == "EchoSession"
    assert REGISTRY.get("EchoSession") is original


def test_a_name_taken_by_another_class_of_the_same_module_is_refused():
    def define():
        class Twice(Session):
            work_on = ("Host",)
        return Twice

    first = define()

    with pytest.raises(SessionRegistrationError, match=r"\.Twice: .*already registered"):
        class Twice(Session):
            work_on = ("Host",)

    assert REGISTRY.get("Twice") is first


def _define(base, **attrs):
    return type("Broken", (base,), {"__module__": __name__, **attrs})


@pytest.mark.parametrize(("base", "attrs", "reason"), [
    (Session, {}, "work_on is empty"),
    (Session, {"work_on": ()}, "work_on is empty"),
    (Session, {"work_on": (object,)}, "no minke model"),
    (Session, {"work_on": ("Host", dict)}, "no minke model"),
    (Session, {"work_on": (42,)}, "no minke model"),
    (SingleCommandSession, {"work_on": ("Host",)}, "must define command"),
    (SingleCommandSession, {"work_on": ("Host",), "command": ""}, "must define command"),
    (CommandChainSession, {"work_on": ("Host",)}, "must define commands"),
    (SessionChain, {"work_on": ("Host",)}, "must define sessions"),
    (SessionChain, {"work_on": ("Host",), "sessions": (Session, "EchoSession")},
     "no session class"),
    (SessionChain, {"work_on": ("Host",), "sessions": (len,)}, "no session class"),
], ids=["no-work_on", "empty-work_on", "object-in-work_on", "dict-in-work_on", "int-in-work_on",
        "no-command", "empty-command", "no-commands", "no-sessions", "string-in-sessions",
        "function-in-sessions"])
def test_a_badly_set_up_session_is_refused_naming_the_class(base, attrs, reason):
    with pytest.raises(SessionRegistrationError, match=reason) as raised:
        _define(base, **attrs)

    assert str(raised.value).startswith(f"{__name__}.Broken: ")
    assert raised.value.session_cls.__name__ == "Broken"
    assert "Broken" not in REGISTRY


def test_a_command_form_session_needs_no_command_of_its_own():
    class AnyCommand(CommandFormSession):
        work_on = ("Host",)

    assert AnyCommand.command == "{cmd}"
    assert AnyCommand.raw_placeholders == ("cmd",)
    assert REGISTRY.get("AnyCommand") is AnyCommand


def test_a_session_chain_may_chain_abstract_sessions():
    class Step(SingleCommandSession):
        abstract = True
        command = "true"

    class Chain(SessionChain):
        work_on = ("Host",)
        sessions = (Step,)

    assert REGISTRY.get("Chain").sessions == (Step,)


# -- forms --------------------------------------------------------------------------------


def test_get_form_returns_form():
    class AskName(Form):
        name = StringField()

    class Greet(Session):
        work_on = ("Host",)
        form = AskName

    assert Greet.get_form() is AskName
    assert Session.get_form() is None
    assert CommandFormSession.get_form() is CommandForm


# -- defaults -----------------------------------------------------------------------------


@pytest.mark.parametrize(("attr", "default"), [
    ("abstract", True),
    ("verbose_name", None),
    ("group", None),
    ("work_on", ()),
    ("permissions", ()),
    ("auto_permission", True),
    ("form", None),
    ("confirm", False),
    ("invoke_config", {}),
    ("parrallel_per_host", False),
])
def test_session_declares_every_attribute_with_its_documented_default(attr, default):
    assert getattr(Session, attr) == default
    assert type(getattr(Session, attr)) is type(default)


def test_a_plain_subclass_inherits_the_defaults():
    class Plain(Session):
        work_on = ("Host",)

    assert (Plain.confirm, Plain.invoke_config, Plain.parrallel_per_host) == (False, {}, False)
    assert (Plain.group, Plain.form, Plain.auto_permission) == (None, None, True)


def test_variant_attributes_have_their_documented_defaults():
    assert SingleCommandSession.command is None
    assert CommandChainSession.commands == ()
    assert CommandChainSession.break_states == ("error",)
    assert SessionChain.sessions == ()
    assert SessionChain.break_states == ("error",)
    assert CommandFormSession.form is CommandForm


# -- the registry -------------------------------------------------------------------------


def test_get_of_an_unknown_name_raises_unknown_session():
    with pytest.raises(UnknownSession) as raised:
        REGISTRY.get("NoSuchSession")

    assert isinstance(raised.value, KeyError)
    assert "'NoSuchSession'" in str(raised.value)


def test_for_model_lists_the_sessions_that_work_on_a_model():
    class OnHosts(Session):
        work_on = ("Host",)

    class OnSites(Session):
        work_on = (Site,)

    class OnBoth(Session):
        work_on = (Host, "Site")

    for model in (Host, "Host"):
        found = REGISTRY.for_model(model)
        assert OnHosts in found and OnBoth in found and OnSites not in found
    for model in (Site, "Site"):
        assert {OnSites, OnBoth} == set(REGISTRY.for_model(model)) & {OnHosts, OnSites, OnBoth}
    assert REGISTRY.for_model("Nothing") == []


def test_runnable_by_lists_the_sessions_the_user_holds_every_permission_for():
    class Open(Session):
        work_on = ("Host",)
        auto_permission = False

    class Guarded(Session):
        work_on = ("Host",)

    class DoublyGuarded(Session):
        work_on = (Site,)
        permissions = ("minke.special",)

    mine = {Open, Guarded, DoublyGuarded}

    def runnable(user, model=None):
        return set(REGISTRY.runnable_by(user, model)) & mine

    assert runnable(FakeUser()) == {Open}
    assert runnable(FakeUser("minke.run_guarded")) == {Open, Guarded}
    assert runnable(FakeUser("minke.run_doublyguarded")) == {Open}
    assert runnable(FakeUser("minke.run_doublyguarded", "minke.special")) == {
        Open, DoublyGuarded}
    everything = FakeUser("minke.run_guarded", "minke.run_doublyguarded", "minke.special")
    assert runnable(everything) == mine
    assert runnable(everything, "Host") == {Open, Guarded}
    assert runnable(everything, Site) == {DoublyGuarded}
