# External Conley-Taber (2011) / Ferman-Pinto (2019) numbers for tests/test_few_treated_reference.py.
#
# Usage (from the repository root; the external code is NOT committed, give its paths):
#   python tests/references/r/make_few_treated_panels.py
#   Rscript tests/references/r/few_treated.R <inference_did.Rmd> <FP_estimation.R> \
#       tests/references/few_treated_panels.csv tests/references/few_treated_external.json
#
# <inference_did.Rmd>: L. Alvarez's teaching notes, github.com/luisfantozzialvarez/ta_microeconometrics,
#   5_causal_panel_data/inference_did.Rmd at commit c44879509caab0d4aecc5a8bc657d1d52f88861b; only its
#   function definitions (conley_taber_test, ferman_pinto_test) are evaluated, not its data code.
# <FP_estimation.R>: a public R function "FP_estimation" ("implements the inference approach of Ferman
#   and Pinto (2019, ReStat) ... appendix A.4, for a model with sampling weights"), found through the
#   code index; its repository could not be identified (see tests/references/README.md). The SHA-256
#   of both files is written to the JSON.
#
# R 4.2.2 (Debian) with r-cran-data.table and r-cran-jsonlite. fixest (used by both external files) is
# neither in Debian nor installable here (CRAN unreachable): feols() is replaced by feols_lm() below,
# our own stand-in on base R lm(): "y ~ x | a + b" becomes lm(y ~ x + factor(a) + factor(b)) with the
# same weights; coef() returns only the non-fixed-effect coefficients, as fixest does. Only the
# regression engine is replaced; the external procedures run unchanged.
#
# sample() is replaced, in the environment the external functions are defined in, by sample_rec(),
# which is base::sample (same code path, same random numbers) and records the indices drawn, so the
# test can redo the first K draws with evalkit's kernels. The functions' internal vectors (all draws,
# contrasts, fitted variances) are read at exit with trace().
suppressMessages({library(data.table); library(jsonlite)})

args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) == 4)
rmd_path <- args[1]; fp_path <- args[2]; panels_csv <- args[3]; out_json <- args[4]
K <- 100L          # draws kept with their indices
B_CT <- 10000L     # Alvarez's default Breps (Conley-Taber and Ferman-Pinto)
B_FPE <- 10000L    # FP_estimation (its default is 1000)

rec <- new.env()
sample_rec <- function(x, size, replace = FALSE, prob = NULL) {
  if (length(x) == 1L && is.numeric(x) && is.finite(x) && x >= 1) {
    if (missing(size)) size <- x
    i <- sample.int(x, size, replace, prob)
    out <- i
  } else {
    if (missing(size)) size <- length(x)
    i <- sample.int(length(x), size, replace, prob)
    out <- x[i]
  }
  if (length(rec$calls) < rec$max) rec$calls[[length(rec$calls) + 1L]] <- i
  out
}
start_recording <- function(max_calls) { rec$calls <- list(); rec$max <- max_calls; rec$out <- NULL }

feols_lm <- function(fml, data, weights = NULL, cluster = NULL, lean = FALSE, ...) {
  df <- as.data.frame(data)
  df$.w <- if (is.null(weights)) 1 else eval(weights[[2]], df)
  rhs <- fml[[3]]
  if (!(is.call(rhs) && identical(rhs[[1]], as.name("|")))) {
    return(lm(fml, data = df, weights = .w))
  }
  fe <- attr(terms(as.formula(paste("~", paste(deparse(rhs[[3]]), collapse = " ")))), "term.labels")
  f <- as.formula(paste(paste(deparse(fml[[2]]), collapse = ""), "~", paste(deparse(rhs[[2]]), collapse = ""),
                        "+", paste0("factor(", fe, ")", collapse = " + ")))
  fit <- lm(f, data = df, weights = .w)
  cf <- coef(fit)
  keep <- !(names(cf) == "(Intercept)" | startsWith(names(cf), "factor("))
  structure(list(coefficients = cf[keep], residuals = unname(residuals(fit)), nobs = nrow(df)), class = "feols_lm")
}
coef.feols_lm <- function(object, ...) object$coefficients
residuals.feols_lm <- function(object, ...) object$residuals

ext <- new.env(parent = globalenv())
assign("sample", sample_rec, envir = ext)
assign("feols", feols_lm, envir = ext)

# Alvarez: evaluate only the function definitions of the notes' R chunks
lines <- readLines(rmd_path, warn = FALSE)
starts <- grep("^```\\{r", lines); ends <- grep("^```\\s*$", lines)
for (s in starts) {
  e <- ends[ends > s][1]
  if (e - s < 2) next
  for (ex in parse(text = lines[(s + 1):(e - 1)])) {
    if (is.call(ex) && (identical(ex[[1]], as.name("<-")) || identical(ex[[1]], as.name("="))) && is.call(ex[[3]]) &&
        identical(ex[[3]][[1]], as.name("function"))) eval(ex, ext)
  }
}
sys.source(fp_path, envir = ext)
stopifnot(exists("conley_taber_test", ext, inherits = FALSE), exists("ferman_pinto_test", ext, inherits = FALSE),
          exists("FP_estimation", ext, inherits = FALSE))
grab <- function(fun, vars) {
  trace(fun, exit = bquote(for (v in .(vars)) assign(v, get(v), envir = rec$out_env)), print = FALSE, where = ext)
}
rec$out_env <- new.env()
invisible(capture.output(suppressMessages({
  grab("conley_taber_test", c("W_vec", "G1", "G0"))
  grab("ferman_pinto_test", c("beta_vec", "residual_mat", "sd_mat", "weight_vec", "tpost_list", "mat_timing"))
  grab("FP_estimation", c("boot_sample", "dt", "alpha_hat"))
})))
take <- function(v) get(v, envir = rec$out_env)

sha256 <- function(p) strsplit(system2("sha256sum", p, stdout = TRUE), " ")[[1]][1]
cells <- read.csv(panels_csv)
out <- list(
  r_version = R.version.string, data_table = as.character(packageVersion("data.table")),
  date = format(Sys.time(), "%Y-%m-%d %H:%M:%S UTC", tz = "UTC"), K = K,
  panels_sha256 = sha256(panels_csv),
  sources = list(
    alvarez = list(repo = "github.com/luisfantozzialvarez/ta_microeconometrics",
                   commit = "c44879509caab0d4aecc5a8bc657d1d52f88861b",
                   path = "5_causal_panel_data/inference_did.Rmd", sha256 = sha256(rmd_path),
                   functions = c("conley_taber_test", "ferman_pinto_test")),
    fp_estimation = list(repo = "not identified (public GitHub file in the code index; see tests/references/README.md)",
                         path = "FP_estimation.R", sha256 = sha256(fp_path), functions = "FP_estimation")),
  fixest_standin = "feols_lm (base R lm with factor() fixed effects), see the driver",
  panels = list())

for (name in unique(cells$panel)) {
  df <- cells[cells$panel == name, c("state", "year", "y", "d", "n")]
  df <- df[order(df$state, df$year), ]
  res <- list()
  cat(name, ": Conley-Taber (Alvarez)\n")
  start_recording(K); set.seed(1234)
  ct <- ext$conley_taber_test("y", "d", "year", "state", df, Breps = B_CT)
  res$ct_alvarez <- list(breps = B_CT, p_equitailed = unname(ct[["P-value (equitailed)"]]),
                         p_absvalue = unname(ct[["P-value (absolute value)"]]),
                         G1 = as.integer(take("G1")), G0 = as.integer(take("G0")),
                         draws_head = take("W_vec")[1:K], index_head = do.call(rbind, rec$calls))
  cat(name, ": Ferman-Pinto (Alvarez)\n")
  start_recording(K); set.seed(1234)
  fp <- suppressWarnings(ext$ferman_pinto_test("y", "d", "year", "state", "n", df, Breps = B_CT))
  res$fp_alvarez <- list(breps = B_CT, p_equitailed = unname(fp[["P-value (equitailed)"]]),
                         p_absvalue = unname(fp[["P-value (absolute value)"]]),
                         tpost = take("tpost_list")[take("tpost_list") != 0], weights = take("weight_vec"),
                         group = take("mat_timing")$group, contrasts = unname(take("residual_mat")),
                         sd = unname(take("sd_mat")), draws_head = take("beta_vec")[1:K],
                         index_head = do.call(rbind, rec$calls))
  first <- tapply(ifelse(df$d == 1, df$year, Inf), df$state, min)
  if (length(unique(first[is.finite(first)])) == 1) {  # FP_estimation: one adoption date only
    cat(name, ": FP_estimation\n")
    t_star <- as.numeric(unique(first[is.finite(first)]))
    micro <- df[rep(seq_len(nrow(df)), df$n), ]  # n persons per cell, weight 1/n: every cell weighs 1
    micro$treat <- as.integer(is.finite(first[as.character(micro$state)]))
    micro$post <- as.integer(micro$year >= t_star)
    micro$w <- 1 / micro$n
    start_recording(2L * K)
    fe <- ext$FP_estimation("y", "treat", "post", "year", "state", micro, weightvar = "w", Breps = B_FPE)
    calls <- rec$calls
    g <- take("dt")
    res$fp_estimation <- list(
      breps = B_FPE, rows = nrow(micro), coefficient = fe$coefficient, se_treated = fe$se, pvalue = fe$pvalue,
      ci_low = fe$ci.low, ci_high = fe$ci.high, state = g$state, W = g$W, q = g$q, var_W = g$var_W,
      draws_head = take("boot_sample")[1:K, 1],
      index_head = do.call(rbind, calls[seq(1, 2 * K, 2)]),
      sign_head = ifelse(do.call(rbind, calls[seq(2, 2 * K, 2)]) == 1L, 1L, -1L))
  }
  out$panels[[name]] <- res
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, matrix = "rowmajor"), out_json)
cat("wrote", out_json, "\n")
