"""Distillation: the student (`student`), its training data and teacher cache (`data`), one training loop
(`train`), held-out greedy checks (`greedy`), teacher-vs-student evaluation (`evaluate`) and background
jobs (`jobs`). Options in `config`."""
