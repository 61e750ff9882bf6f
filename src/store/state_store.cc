// Object-name validation shared by every StateStore implementation: one rule, checked in one place,
// so that no caller input can name anything outside a store's root or prefix.
#include "store/state_store.h"

#include <algorithm>
#include <stdexcept>

namespace buildtrace {
namespace {

constexpr size_t kMaxObjectNameBytes = 512;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsValidSegment(std::string_view segment) {
  if (segment.empty() || segment == "." || segment == "..") return false;
  for (char c : segment) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

}  // namespace

bool IsValidObjectName(std::string_view name) {
  if (name.empty() || name.size() > kMaxObjectNameBytes) return false;
  // Splitting on every '/' turns a leading, trailing or doubled '/' into an empty segment.
  while (true) {
    const size_t slash = name.find('/');
    if (!IsValidSegment(name.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    name.remove_prefix(slash + 1);
  }
}

Result<InputBytes> StateStore::ReadInput(std::string_view name) {
  Result<std::string> bytes = Read(name);
  if (!bytes.ok()) return bytes.status();
  return InputBytes(std::move(*bytes));
}

ObjectToCreate::ObjectToCreate(std::string_view name,
                               std::initializer_list<std::string_view> pieces)
    : name_(name), count_(pieces.size()) {
  if (pieces.size() > kMaxPieces) throw std::length_error("ObjectToCreate: too many pieces");
  std::copy(pieces.begin(), pieces.end(), pieces_.begin());
}

size_t ObjectToCreate::size() const {
  size_t total = 0;
  for (std::string_view piece : pieces()) total += piece.size();
  return total;
}

std::string ObjectToCreate::Joined() const {
  std::string joined;
  joined.reserve(size());
  for (std::string_view piece : pieces()) joined.append(piece);
  return joined;
}

std::vector<Status> StateStore::CreateManyIfAbsent(std::span<const ObjectToCreate> objects) {
  std::vector<Status> results;
  results.reserve(objects.size());
  for (const ObjectToCreate& object : objects) {
    const std::span<const std::string_view> pieces = object.pieces();
    results.push_back(pieces.size() == 1 ? CreateIfAbsent(object.name(), pieces.front())
                                         : CreateIfAbsent(object.name(), object.Joined()));
  }
  return results;
}

Result<std::vector<Status>> StateStore::CreateManyIfAbsentPreparing(
    std::span<const ObjectToCreate> objects, const std::function<Status()>& prepare) {
  if (Status prepared = prepare(); !prepared.ok()) return prepared;
  return CreateManyIfAbsent(objects);
}

Result<int64_t> DeleteObjectsUnder(StateStore& store, std::string_view prefix) {
  Result<std::vector<std::string>> names = store.List(prefix);
  if (!names.ok()) return names.status();
  int64_t deleted = 0;
  for (const std::string& name : *names) {
    if (Status s = store.Delete(name); !s.ok()) return s;
    ++deleted;
  }
  return deleted;
}

}  // namespace buildtrace
