"""Writes the MATH dataset (hendrycks MATH, the DigitalLearningGmbH/MATH-lighteval copy) as verl parquet.

Each row has verl's RL fields: ``data_source`` (verl's default reward scores it with
``verl.utils.reward_score.math_reward``: the last \\boxed{} answer against the reference, 1.0 or 0.0),
``prompt`` (chat messages), ``reward_model.ground_truth`` and ``extra_info.index``.

    python prepare_math.py --out ~/data/math     # train.parquet (7500) and test.parquet (5000)
"""
import argparse
import os

DATA_SOURCE = "DigitalLearningGmbH/MATH-lighteval"
INSTRUCTION = "Let's think step by step and output the final answer within \\boxed{}."


def make_row(example: dict, idx: int, split: str) -> dict:
    """One verl RL row from a MATH example ({"problem", "solution", ...})."""
    from verl.utils.reward_score.math_reward import last_boxed_only_string, remove_boxed

    return {
        "data_source": DATA_SOURCE,
        "prompt": [{"role": "user", "content": example["problem"] + " " + INSTRUCTION}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": remove_boxed(last_boxed_only_string(example["solution"]))},
        "extra_info": {"split": split, "index": idx},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.expanduser("~/data/math"))
    args = parser.parse_args()

    import datasets

    dataset = datasets.load_dataset(DATA_SOURCE)

    os.makedirs(args.out, exist_ok=True)
    for split in ("train", "test"):
        part = dataset[split].map(lambda ex, i, _s=split: make_row(ex, i, _s), with_indices=True,
                                  remove_columns=dataset[split].column_names)
        part.to_parquet(os.path.join(args.out, f"{split}.parquet"))
        print(f"{split}: {len(part)} rows -> {os.path.join(args.out, split + '.parquet')}")


if __name__ == "__main__":
    main()
