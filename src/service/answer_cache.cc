// The LRU of rendered answers (answer_cache.h).
#include "service/answer_cache.h"

#include <utility>

namespace buildtrace {

SharedText AnswerCache::Find(const std::string& key, std::string_view epoch) {
  const std::lock_guard lock(mutex_);
  auto found = by_key_.find(key);
  if (found == by_key_.end() || found->second->epoch != epoch) return nullptr;
  order_.splice(order_.begin(), order_, found->second);
  return found->second->answer;
}

void AnswerCache::Put(const std::string& key, std::string_view epoch, SharedText answer) {
  const size_t size = key.size() + answer->size();
  if (size > max_bytes_) return;
  const std::lock_guard lock(mutex_);
  if (auto found = by_key_.find(key); found != by_key_.end()) Drop(found->second);
  order_.push_front(Entry{key, std::string(epoch), std::move(answer)});
  by_key_.emplace(order_.front().key, order_.begin());
  bytes_ += size;
  while (bytes_ > max_bytes_) Drop(std::prev(order_.end()));
}

void AnswerCache::Forget(std::string_view prefix) {
  const std::lock_guard lock(mutex_);
  for (auto it = order_.begin(); it != order_.end();) {
    auto next = std::next(it);
    if (std::string_view(it->key).starts_with(prefix)) Drop(it);
    it = next;
  }
}

size_t AnswerCache::bytes() const {
  const std::lock_guard lock(mutex_);
  return bytes_;
}

void AnswerCache::Drop(Order::iterator it) {
  bytes_ -= it->key.size() + it->answer->size();
  by_key_.erase(it->key);
  order_.erase(it);
}

}  // namespace buildtrace
