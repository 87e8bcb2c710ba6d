"""Generate the synthetic COCO-format demo set (skips the work when it is already there)."""

import argparse

from mmlight.demo_data import generate


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', default='data/demo')
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--size', type=int, default=192)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    made = generate(args.out, args.num_train, args.num_val, args.size, args.seed)
    print(f"{'generated' if made else 'already present'}: {args.out}")


if __name__ == '__main__':
    main()
