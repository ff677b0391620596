package playbook

import (
	"fmt"
	"strings"
)

// suggest returns the candidate closest to word, for a "did you mean"
// hint, or "" when none is close enough to be a likely typo.
func suggest(word string, candidates []string) string {
	best, bestD := "", -1
	w := normalizeWord(word)
	for _, c := range candidates {
		d := editDistance(w, normalizeWord(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(2, len(best)/4) || bestD >= len(word) {
		return ""
	}
	return best
}

// normalizeWord makes case and '-' versus '_' free for suggestions:
// "Become-User" is one step from nothing but become_user.
func normalizeWord(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "-", "_")
}

// didYouMean returns "did you mean X?" for the closest candidate, or
// otherwise.
func didYouMean(word string, candidates []string, otherwise string) string {
	if s := suggest(word, candidates); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return otherwise
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
