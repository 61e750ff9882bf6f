// Fuzzes the XML readers of the S3 store (store/s3_xml.h): a server's answers are outside input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "store/s3_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)buildtrace::ParseListObjectsV2(input);
  (void)buildtrace::ParseS3Error(input);
  (void)buildtrace::DecodeXmlText(input);
  return 0;
}
