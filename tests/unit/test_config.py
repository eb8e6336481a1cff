import pytest

from backend.platform.config import Config, ConfigError


def test_defaults_are_embedded():
    config = Config.from_env({"FINEDGE_ENV": "demo"})
    assert config.database_url.startswith("sqlite:///")
    assert config.mqtt_url is None and config.redis_url is None
    assert len(config.secret_key) >= 32
    assert config.fake_wx_login


def test_generated_secret_is_stable_across_starts():
    assert Config.from_env({}).secret_key == Config.from_env({}).secret_key


def test_production_refuses_to_start_without_secret():
    with pytest.raises(ConfigError, match="FINEDGE_SECRET_KEY"):
        Config.from_env({"FINEDGE_ENV": "production"})


def test_production_with_secret_has_no_fake_login():
    config = Config.from_env({"FINEDGE_ENV": "production", "FINEDGE_SECRET_KEY": "x" * 40})
    assert config.is_production and not config.fake_wx_login


def test_short_secret_and_unknown_env_refused():
    with pytest.raises(ConfigError):
        Config.from_env({"FINEDGE_SECRET_KEY": "short"})
    with pytest.raises(ConfigError, match="FINEDGE_ENV"):
        Config.from_env({"FINEDGE_ENV": "staging"})


def test_environment_variables_are_read():
    config = Config.from_env(
        {
            "DATABASE_URL": "postgresql+psycopg://u@h/db",
            "MQTT_URL": "mqtt://a:b@h:1883",
            "BRANCH_MQTT_URL": "mqtt://h:1884",
            "REDIS_URL": "redis://h:6379/0",
        }
    )
    assert config.database_url == "postgresql+psycopg://u@h/db"
    assert config.mqtt_url == "mqtt://a:b@h:1883"
    assert config.branch_mqtt_url == "mqtt://h:1884"
    assert config.redis_url == "redis://h:6379/0"
    assert config.mqtt_admin_url is None and config.branch_mqtt_admin_url is None


def test_dynsec_admin_urls_are_read_and_make_the_hubs_keeper():
    from backend.roles.central_accounts import keeper_for

    config = Config.from_env(
        {
            "MQTT_URL": "mqtt://backend:b-pw@h:1883",
            "MQTT_ADMIN_URL": "mqtt://admin:a-pw@h:1883",
            "BRANCH_MQTT_ADMIN_URL": "mqtts://admin:x@branch:8883?cafile=/ca.crt",
        }
    )
    assert config.mqtt_admin_url == "mqtt://admin:a-pw@h:1883"
    assert config.branch_mqtt_admin_url == "mqtts://admin:x@branch:8883?cafile=/ca.crt"
    keeper = keeper_for(config, session_factory=None)  # type: ignore[arg-type]
    assert keeper is not None and keeper.backend_password == "b-pw"
    assert keeper_for(Config.from_env({}), session_factory=None) is None  # type: ignore[arg-type]


PRODUCTION = {
    "FINEDGE_ENV": "production",
    "FINEDGE_SECRET_KEY": "x" * 40,
    "DATABASE_URL": "sqlite://",
}


def test_production_boots_without_wechat_and_wx_login_says_it_is_off():
    """Changed by issue 12: production used to refuse to start without WX_APPID/WX_SECRET;
    now mini-program login is simply off (404 wx_login_disabled), and no fake provider."""
    from backend.app import create_app

    config = Config.from_env(PRODUCTION)
    assert not config.wx_login and not config.fake_wx_login
    app = create_app(config)
    try:
        assert app.extensions["finedge"].wx_provider is None
        response = app.test_client().post("/api/v1/auth/wx-login", json={"code": "fake:o1"})
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "wx_login_disabled"
    finally:
        app.extensions["finedge"].runtime.stop()


def test_wx_login_flag_needs_both_credentials_in_production():
    with pytest.raises(ConfigError, match="WX_APPID and WX_SECRET"):
        Config.from_env({**PRODUCTION, "FINEDGE_WX_LOGIN": "on"})
    with pytest.raises(ConfigError, match="WX_APPID and WX_SECRET"):
        Config.from_env({**PRODUCTION, "WX_APPID": "wx123"})
    with pytest.raises(ConfigError, match="FINEDGE_WX_LOGIN"):
        Config.from_env({**PRODUCTION, "FINEDGE_WX_LOGIN": "maybe"})
    wechat = {**PRODUCTION, "WX_APPID": "wx123", "WX_SECRET": "s" * 32}
    assert Config.from_env(wechat).wx_login  # both set: on
    assert Config.from_env({**wechat, "FINEDGE_WX_LOGIN": "on"}).wx_login
    assert not Config.from_env({**wechat, "FINEDGE_WX_LOGIN": "off"}).wx_login


def test_production_with_wechat_uses_the_real_provider():
    from backend.app import create_app
    from backend.identity.wechat import WeChatCode2Session

    config = Config.from_env({**PRODUCTION, "WX_APPID": "wx123", "WX_SECRET": "s" * 32})
    app = create_app(config)
    try:
        assert isinstance(app.extensions["finedge"].wx_provider, WeChatCode2Session)
    finally:
        app.extensions["finedge"].runtime.stop()


def test_demo_wx_login_is_fake_unless_switched_off():
    assert Config.from_env({"FINEDGE_ENV": "demo"}).fake_wx_login
    off = Config.from_env({"FINEDGE_ENV": "demo", "FINEDGE_WX_LOGIN": "off"})
    assert not off.wx_login and not off.fake_wx_login
