"""Score options: shards (also from SLURM's environment), export names, patterns, output names."""

from __future__ import annotations

import pytest

from vpbehavior.core import ConfigError
from vpbehavior.scoring import ScoreConfig, Shard
from vpbehavior.scoring.walk import _unique_keys, matches, safe_key


def test_shards_partition_the_sorted_videos_every_nth():
    items = [f"v{i:02d}" for i in range(11)]
    parts = [Shard(i, 3).select(items) for i in range(3)]
    assert parts[0] == ["v00", "v03", "v06", "v09"] and parts[2] == ["v02", "v05", "v08"]
    assert sorted(sum(parts, [])) == items  # disjoint and complete
    assert Shard.parse("1/3") == Shard(1, 3) and str(Shard(1, 3)) == "1/3"
    for bad in ("3/3", "1", "a/b", "-1/2", "0/0"):
        with pytest.raises(ConfigError):
            Shard.parse(bad)


def test_shard_from_slurm_array_environment():
    assert ScoreConfig().resolved_shard({}) == Shard(0, 1)
    env = {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "0"}
    assert ScoreConfig().resolved_shard(env) == Shard(3, 8)
    one_based = {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1"}
    assert ScoreConfig().resolved_shard(one_based) == Shard(0, 4)
    stepped = {"SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0",
               "SLURM_ARRAY_TASK_STEP": "2"}  # fmt: skip
    assert ScoreConfig().resolved_shard(stepped) == Shard(3, 4)
    assert ScoreConfig(shard="1/2").resolved_shard(env) == Shard(1, 2)  # --shard wins over the environment
    with pytest.raises(ConfigError, match="not one of"):
        ScoreConfig().resolved_shard({"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "4"})


def test_exports_and_option_checks():
    assert ScoreConfig(export="slp, BORIS,slp").exports == ("slp", "boris")
    assert ScoreConfig().exports == ()
    for bad in (dict(export="boris,xls"), dict(workers=-1), dict(batch_size=0), dict(shard="2/2"), dict(tracks=0),
                dict(pattern=""), dict(lock_timeout=0)):  # fmt: skip
        with pytest.raises(ConfigError):
            ScoreConfig(**bad)


def test_patterns_match_paths_and_names():
    assert matches("*", "day1/m1.mp4") and matches("*.mp4", "day1/m1.mp4")
    assert matches("day1/*", "day1/m1.mp4") and not matches("day2/*", "day1/m1.mp4")
    assert matches("m1*", "day1/m1.mp4") and not matches("m2*", "day1/m1.mp4")


def test_output_names():
    assert safe_key("day1/m 1") == "day1/m_1" and safe_key("../x") == "x" and safe_key(".hidden") == "hidden"
    keys = _unique_keys([("a/m1.mp4", "a/m1"), ("a/m1.avi", "a/m1"), ("b/m2.mp4", "b/m2")])
    assert keys == {"a/m1.mp4": "a/m1.mp4", "a/m1.avi": "a/m1.avi", "b/m2.mp4": "b/m2"}
