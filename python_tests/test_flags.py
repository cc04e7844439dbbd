"""One yes/no parser (ead_ext.integrations.flags) behind every ead-ext switch."""


def test_one_yes_no_parser_for_every_switch(monkeypatch):
    """ead-ext's switches (EAD_VLLM_DISABLE, the CPU live-weights switch, EAD_VERL_CPU_MODE) and a
    request's "ead": "true" read on / off words the same way (ead_ext.integrations.flags)."""
    from ead_ext.integrations import flags
    from ead_ext.integrations.vllm import cpu_weights, plugin
    from ead_ext.integrations.vllm.params import parse_ead_args

    for word, want in [("1", True), (" Yes ", True), ("ON", True), ("true", True), ("0", False), ("no", False),
                       ("Off", False), ("false", False), ("", None), ("auto", None), ("2", None)]:
        assert flags.parse_flag(word) is want, word
        monkeypatch.setenv(plugin.ENV_DISABLE, word)
        monkeypatch.setenv(cpu_weights.ENV, word)
        assert plugin.is_disabled() is (want is True) and cpu_weights.wanted() is (want is True), word
    monkeypatch.delenv(plugin.ENV_DISABLE)
    assert flags.env_flag(plugin.ENV_DISABLE) is None
    from ead_ext.integrations.verl import cpu_mode  # noqa: E402  (verl: this file is not in the plain venv)

    monkeypatch.setenv(cpu_mode.ENV_SWITCH, "YES")
    assert cpu_mode.wanted()
    monkeypatch.setenv(cpu_mode.ENV_SWITCH, " off ")
    assert not cpu_mode.wanted()
    for word in flags.ON_WORDS:
        assert parse_ead_args({"ead": word.upper()}).schedule == parse_ead_args({"ead": {}}).schedule
