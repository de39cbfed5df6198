// Shim over FFmpeg 5.1 for Swift. Swift cannot import function-like or
// expression macros, so the ones kvvision needs are re-exported here as
// constants and inline functions prefixed `kvv_`.
#ifndef KVV_CFFMPEG_SHIM_H
#define KVV_CFFMPEG_SHIM_H

#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/rational.h>
#include <libswscale/swscale.h>

/// AVERROR(EAGAIN): "try again" from the send/receive API.
static inline int kvv_averror_eagain(void) { return AVERROR(EAGAIN); }
/// AVERROR_EOF: end of stream.
static inline int kvv_averror_eof(void) { return AVERROR_EOF; }
/// AVERROR_EXIT: returned when the interrupt callback aborts an operation.
static inline int kvv_averror_exit(void) { return AVERROR_EXIT; }
/// AVERROR_INVALIDDATA.
static inline int kvv_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
/// AVERROR(e) for any errno value.
static inline int kvv_averror(int e) { return AVERROR(e); }
/// AV_NOPTS_VALUE (an expression macro Swift cannot import).
static inline int64_t kvv_nopts_value(void) { return AV_NOPTS_VALUE; }
/// AV_TIME_BASE as an int.
static inline int kvv_time_base(void) { return AV_TIME_BASE; }
/// AV_TIME_BASE_Q.
static inline AVRational kvv_time_base_q(void) { return (AVRational){1, AV_TIME_BASE}; }
/// av_err2str into a caller buffer (the macro uses a compound literal).
static inline const char *kvv_err2str(int err, char *buf, size_t size) {
    av_strerror(err, buf, size);
    return buf;
}
/// AVFMT_NOFILE flag.
static inline int kvv_avfmt_nofile(void) { return AVFMT_NOFILE; }
/// AVFMT_GLOBALHEADER flag.
static inline int kvv_avfmt_globalheader(void) { return AVFMT_GLOBALHEADER; }
/// AV_CODEC_FLAG_GLOBAL_HEADER flag.
static inline int kvv_codec_flag_global_header(void) { return AV_CODEC_FLAG_GLOBAL_HEADER; }
/// AVIO_FLAG_WRITE flag.
static inline int kvv_avio_flag_write(void) { return AVIO_FLAG_WRITE; }
/// AV_LOG_* levels.
static inline int kvv_log_quiet(void) { return AV_LOG_QUIET; }
static inline int kvv_log_error(void) { return AV_LOG_ERROR; }
static inline int kvv_log_warning(void) { return AV_LOG_WARNING; }

#endif
