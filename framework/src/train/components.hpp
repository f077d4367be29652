// Everything a run is made of, built from its configuration: tokenizer, dataset, model, optimizer,
// loss, learning-rate schedule, and the plugin records for the run log. Shared by train, resume and sample. Internal.
#pragma once

#include <memory>
#include <vector>

#include "nanolab/data.hpp"
#include "nanolab/experiment.hpp"
#include "nanolab/loss.hpp"
#include "nanolab/model.hpp"
#include "nanolab/optimizer.hpp"
#include "nanolab/plugin.hpp"
#include "nanolab/run_store.hpp"
#include "nanolab/schedule.hpp"
#include "nanolab/tokenizer.hpp"

namespace nanolab::train_detail {

struct Components {
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Dataset> dataset;
  std::unique_ptr<Gpt> model;
  std::unique_ptr<StatefulOptimizer> optimizer;
  std::unique_ptr<Loss> loss;
  std::unique_ptr<Schedule> schedule;
  std::vector<PluginRecord> plugins;
};

enum class Purpose { train, evaluate, sample };

// For Purpose::evaluate and sample no optimizer, loss or schedule is made; for sample a text dataset is not
// opened either (dataset is null; the tokenizer decodes). `saved_tokenizer` (from a run file), when
// not empty, is loaded instead of training the tokenizer again. The model has model.vocab_size rows
// when that is set (ConfigError if the data's vocabulary is larger), else the data's vocabulary.
Components build(const ExperimentConfig& config, Purpose purpose,
                 const std::string& saved_tokenizer = "");

// Makes the plugins of `kinds` that a run recorded (its run.h5's /plugins) findable when the
// search path lacks them: a recorded file that still has the recorded sha256 is read instead, and
// a note on stderr says so; a recorded file whose sha256 differs is a PluginError (exit 4), since
// it is not the code the run was trained with. A recorded file that is gone changes nothing (the
// configuration's check then names the missing plugin). `run` names the run in the messages.
void reopen_recorded_plugins(const std::vector<PluginRecord>& records,
                             const std::vector<PluginKind>& kinds, const std::string& run);

}  // namespace nanolab::train_detail
