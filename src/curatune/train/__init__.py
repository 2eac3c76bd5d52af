"""Fine-tuning: ``curatune train`` over transformers, PEFT and TRL, with the checks and tracking they lack."""
