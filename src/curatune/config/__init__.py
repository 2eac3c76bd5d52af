from .recipe import Recipe, load_recipe, parse_recipe, recipe_to_yaml

__all__ = ["Recipe", "load_recipe", "parse_recipe", "recipe_to_yaml"]
