"""Fine-tune BERT on AG News: notebook 05's training as a script, in one process or under torchrun.

    python finetune.py --epochs 3 --batch-size 16 --lr 5e-5
    torchrun --nproc_per_node 4 finetune.py --epochs 3 --batch-size 16 --lr 5e-5

Under torchrun each process trains a DistributedDataParallel replica on its share of every length-bucketed
batch (NCCL on GPUs, gloo on CPUs); rank 0 shows the progress bar, writes the checkpoints and prints the
test accuracy. Run the same command again to resume an interrupted run from --checkpoint-dir.
"""
import argparse
import os
from pathlib import Path

import torch

import torchnlp


def parse_args(argv=None):
    defaults = torchnlp.TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="checkpoint folder or hub name (default: BERT_MODEL or bert/)")
    parser.add_argument("--data-dir", type=Path, default=None, help="AG News folder (default: data/ag_news)")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="per process")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--checkpoint-dir", type=Path, default=torchnlp.CHECKPOINT_DIR / "finetune")
    parser.add_argument("--save-every", type=int, default=defaults.save_every)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-limit", type=int, default=None, help="train on the first N rows only")
    parser.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation")
    return parser.parse_args(argv)


def setup_distributed():
    """Join the process group that torchrun describes in the environment; return (device, rank, world size)."""
    if "RANK" not in os.environ:
        return torchnlp.choose_device(), 0, 1
    local_rank = int(os.environ["LOCAL_RANK"])
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    torch.distributed.init_process_group(backend)
    return device, torch.distributed.get_rank(), torch.distributed.get_world_size()


def main(argv=None):
    from transformers import AutoTokenizer, BertForSequenceClassification
    from transformers.utils import logging as transformers_logging

    args = parse_args(argv)
    device, rank, world = setup_distributed()
    if rank != 0:
        transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        bert_model = args.model or torchnlp.bert_model_path()
        tokenizer = AutoTokenizer.from_pretrained(bert_model)
        train_dataset, test_dataset, classes, _ = torchnlp.load_dataset(args.data_dir, verbose=rank == 0)
        train_dataset = train_dataset[: args.train_limit]
        train_features = torchnlp.encode_for_bert(train_dataset, tokenizer, args.max_length)
        torchnlp.set_seed(args.seed)  # the new head's initialisation is part of the run
        model = BertForSequenceClassification.from_pretrained(bert_model, num_labels=len(classes)).to(device)
        config = torchnlp.TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                      seed=args.seed, save_every=args.save_every)
        collate = torchnlp.PaddingCollator(tokenizer.pad_token_id)
        torchnlp.fine_tune(model, train_features, config, collate=collate, tokenizer=tokenizer,
                           checkpoint_dir=args.checkpoint_dir, device=device,
                           log=print if rank == 0 else lambda *_: None)
        if rank == 0 and not args.no_eval:
            test_features = torchnlp.encode_for_bert(test_dataset, tokenizer, args.max_length)
            predictions = torchnlp.predict(model, test_features, collate, device=device).argmax(1)
            labels = torch.tensor([label for label, _ in test_dataset])
            print(f"test accuracy: {(predictions == labels).float().mean():.4f} on {len(labels):,} rows "
                  f"({torchnlp.describe_variant(torchnlp.ensure_ag_news(args.data_dir))})")
        return model
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
