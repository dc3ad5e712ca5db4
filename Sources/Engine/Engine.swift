// Engine: see the README's architecture section.
import CBLAS
